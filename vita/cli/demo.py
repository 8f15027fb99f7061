"""`vita demo`: the main job on the embedded default, through the same functions the commands use."""

from __future__ import annotations

from typing import Annotated

import typer

from indexer.search import GroupBy, SearchRequest
from vita.cli.catalog import print_stats
from vita.cli.common import console, open_catalog, settings
from vita.cli.index import index
from vita.cli.ingest import DemoSize, demo_source, exit_for, ingest
from vita.cli.search import print_response, search
from vita.cli.serve import serve_cmd
from vita.cli.train import train


def demo_cmd(
    size: Annotated[DemoSize, typer.Option(help="Demo world size.")] = DemoSize.DEFAULT,
    train_model: Annotated[bool, typer.Option("--train/--no-train",
                                              help="Train the tiny model if <data>/models/tiny is missing and "
                                                   "no checkpoint ships with the package.")] = True,
    retrain: Annotated[bool, typer.Option(help="Train the tiny model anew (about 40 minutes on 2 CPU cores) "
                                               "instead of using the shipped checkpoint.")] = False,
    serve: Annotated[bool, typer.Option(help="End by serving the search UI on 127.0.0.1:8501.")] = True,
) -> None:
    """The main job on the embedded default: build the demo world, get the tiny model, index it, search."""
    from encoders.pretrained import install

    console.rule("VITA demo world (real taxonomy, SYNTHETIC media)")
    report = ingest(*demo_source(size.value, 0))
    with open_catalog() as cat:
        print_stats(cat.stats())
    model_dir = settings().models_dir / "tiny"
    trained = (model_dir / "vita_config.json").is_file()
    if retrain or (train_model and not trained and install("tiny", settings().models_dir) is None):
        console.rule("training the tiny model (about 40 minutes on 2 CPU cores)")
        train(name="tiny")
    elif not trained and train_model:
        console.print(f"tiny model: the checkpoint shipped with VITA (trained on this demo world) -> {model_dir}; "
                      "`vita demo --retrain` trains it anew")
    elif trained:
        console.print(f"tiny model: {model_dir} (`vita demo --retrain` trains it anew)")
    trained = (model_dir / "vita_config.json").is_file()
    if trained:
        console.rule("indexing into the embedded vector store (Celery workers, no server)")
        index(str(model_dir))
        console.rule('vita search "nocturnal Hylidae calls" -k 5')
        print_response(search(SearchRequest(text="nocturnal Hylidae calls", k=5, group_by=GroupBy.SPECIES)))
    console.print("Try: [bold]vita search \"Strigidae photos\"[/bold], [bold]vita search --audio FILE "
                  "--target image[/bold], [bold]vita traits --species \"Hyla versicolor\"[/bold]")
    if serve and trained:
        console.rule("the search UI")
        serve_cmd(port=8501, host="127.0.0.1")
    exit_for(report)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
