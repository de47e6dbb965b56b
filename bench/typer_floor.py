"""The floor of any Typer CLI: a one-command app whose --help renders with Rich."""

import typer

app = typer.Typer()


@app.command()
def hello(name: str = "pi") -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


if __name__ == "__main__":
    app()
