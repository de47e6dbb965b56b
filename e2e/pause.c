/*
 * labctl's own pause program: the sandbox ("infra") container of every pod in the
 * locally built test cluster. It holds the pod's namespaces open, reaps any zombie
 * that is re-parented to it (it runs as PID 1 of the pod), and exits 0 on SIGINT or
 * SIGTERM. Built static (gcc -static) so the image needs nothing but this file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig)
{
    (void)sig;
    _exit(0);
}

static void on_child(int sig)
{
    int saved = errno;
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

static int handle(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
    return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("labctl-pause 1");
        return 0;
    }
    if (handle(SIGINT, on_stop) < 0 || handle(SIGTERM, on_stop) < 0 ||
        handle(SIGCHLD, on_child) < 0) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;) {
        pause();
    }
}
