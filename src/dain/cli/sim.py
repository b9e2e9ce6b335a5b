"""`dain sim`: try a federation of many simulated clients in one process, before touching a
real network: datasets, skew, strategies and attacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dain.errors import DainError

if TYPE_CHECKING:
    from dain.sim import SimConfig


def sim(
    dataset: Annotated[str, typer.Option(help="breast_cancer, digits, wine, iris, diabetes, "
                                              "smart_city or card_fraud.")] = "digits",
    clients: Annotated[int, typer.Option(min=1, help="Simulated clients.")] = 100,
    rounds: Annotated[int, typer.Option(min=1, help="Training rounds.")] = 20,
    partition: Annotated[str, typer.Option(help="iid, dirichlet or quantity.")] = "iid",
    alpha: Annotated[float, typer.Option(help="Skew: smaller is more skewed.")] = 0.5,
    hidden: Annotated[str, typer.Option(help="Hidden layer widths, e.g. '64' or '64,32'; "
                                             "'' for logistic regression.")] = "64",
    strategy: Annotated[str, typer.Option(help="fedavg, fedavgm, fedprox, fedadagrad, fedadam, "
                                               "fedyogi, fedmedian, trimmedmean, krum, "
                                               "multikrum or bulyan.")] = "fedavg",
    learning_rate: Annotated[float, typer.Option("--lr", help="Local SGD learning rate.")] = 0.05,
    batch_size: Annotated[int, typer.Option(min=1, help="Local batch size.")] = 16,
    epochs: Annotated[int, typer.Option(min=1, help="Local epochs per round.")] = 1,
    attack: Annotated[str, typer.Option(help="none, sign_flip, scale, gaussian or "
                                             "label_flip.")] = "none",
    attackers: Annotated[float, typer.Option(help="Fraction of clients attacking.")] = 0.0,
    privacy: Annotated[str, typer.Option(help="none, or client: each client clips its update "
                                              "and adds its share of Gaussian noise. The noise "
                                              "follows --seed so runs repeat: it shows what "
                                              "privacy costs, and protects nothing (nodes draw "
                                              "theirs from the OS CSPRNG).")] = "none",
    noise_multiplier: Annotated[float, typer.Option(help="Client-level privacy: the noise's "
                                                         "std over the clip norm.")] = 1.0,
    clip: Annotated[float, typer.Option(help="Client-level privacy: each update's L2 "
                                             "bound.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed for data, partition, training and the "
                                           "simulated privacy noise.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    template: Annotated[str | None, typer.Option(help="imaging, smart_city or fraud: that use "
                                                      "case's model and training settings "
                                                      "(its job file) on its data; replaces "
                                                      "--dataset, --hidden, --lr, --epochs and "
                                                      "--batch-size.")] = None,
) -> None:  # fmt: skip
    """Simulate federated training of many clients at once (vectorized over clients)."""
    from dain.learning import PrivacyLevel, PrivacySpec
    from dain.sim import SimConfig, simulate

    try:
        widths = tuple(int(w) for w in hidden.split(",") if w.strip())
    except ValueError:
        raise DainError(f"--hidden '{hidden}' is not a list of widths like '64,32'.") from None
    if json_out is not None and not json_out.parent.exists():
        raise DainError(f"The folder {json_out.parent} does not exist; create it first.")
    if privacy not in ("none", "client"):
        raise DainError(
            f"--privacy must be none or client, not '{privacy}'.",
            hint="Record-level DP-SGD runs on a network of nodes: dain demo --secure --epsilon E.",
        )
    if attackers > 0 and attack == "none":
        raise DainError(f"--attackers {attackers} names no attack, so nobody would attack.",
                        hint="Add --attack sign_flip, scale, gaussian or label_flip.")  # fmt: skip
    if attack != "none" and attackers <= 0:
        raise DainError(f"--attack {attack} with no attackers changes nothing.",
                        hint="Add --attackers with the fraction of clients, e.g. 0.2.")  # fmt: skip
    noise = PrivacySpec()
    if privacy == "client":
        noise = PrivacySpec(PrivacyLevel.CLIENT, noise_multiplier, clip, clients=clients)
    config = SimConfig(dataset, widths, clients, rounds, partition, alpha, learning_rate,
                       batch_size, epochs, strategy, {}, attack, attackers, seed,
                       privacy=noise)  # fmt: skip
    if template is not None:
        config, dataset = _from_template(template, config)
    console = Console()
    metric = "R^2" if dataset in ("diabetes", "smart_city") else "accuracy"
    with Progress(TextColumn("round"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=False) as progress:  # fmt: skip
        task = progress.add_task("", total=rounds)

        def report(round_no: int, score: float) -> None:
            progress.update(task, completed=round_no, description=f"{metric} {score:.3f}")

        result = simulate(config, report)
    console.print(
        f"{clients} clients, {rounds} rounds, {strategy} on {dataset} ({partition}): "
        f"{metric} {result.accuracy[-1]:.3f} in {result.seconds:.1f} s."
        + (f" Epsilon {result.epsilon:.2f} at delta {noise.delta:g}." if result.epsilon else "")
        + _imbalanced(getattr(result, "metrics", None) or {})
    )
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        console.print(f"Results written to {json_out}.")


def _from_template(name: str, config: SimConfig) -> tuple[SimConfig, str]:
    """The simulation of a use case: its job file's model and training on its dataset."""
    from dataclasses import replace

    from dain.node import SIM_DATASETS, template_plan

    if name not in SIM_DATASETS:
        raise DainError(f"There is no use case '{name}'.",
                        hint=f"Use one of {', '.join(SIM_DATASETS)}.")  # fmt: skip
    plan = template_plan(name)
    train = plan.spec.train
    horizon = plan.schema.horizon or 1
    found = replace(config, dataset=SIM_DATASETS[name], hidden=(), model=plan.spec.model,
                    learning_rate=train.learning_rate, epochs=train.epochs,
                    batch_size=train.batch_size, momentum=train.momentum,
                    class_weights=train.class_weights, balance_classes=train.balance_classes,
                    horizon=horizon)  # fmt: skip
    return found, SIM_DATASETS[name]


def _imbalanced(metrics: dict[str, float]) -> str:
    """Balanced accuracy and AUC, where accuracy alone says little (fraud: 99% legitimate)."""
    if "balanced_accuracy" not in metrics:
        return ""
    auc = metrics.get("roc_auc")
    return (f" Balanced accuracy {metrics['balanced_accuracy']:.3f}"
            + (f", ROC AUC {auc:.3f}." if auc is not None else "."))  # fmt: skip
