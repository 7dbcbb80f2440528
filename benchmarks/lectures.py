"""The lectures' techniques on the course's Part 2 nets: run jobs/lectures.toml, print the table.

Each row is a technique (or a few together) from jobs/lectures.toml, each column pair a net at
its course epochs: the final test MSE, mean ± std over the init seeds, and its change against
the course's recipe on the same net. The verdict is "better" or "worse" only when the two
mean ± std ranges do not overlap, "≈" otherwise; a run that diverged is counted.

    python benchmarks/lectures.py [--grid jobs/lectures.toml] [--out results-lectures] [--jobs N]

Resumable like any ``rnnbatch run``: rerunning only fills the gaps. Not part of CI.
"""

from rnnbatch import grid, report, results

import _grid  # benchmarks/_grid.py, beside this script


def verdict(row: dict, course: dict) -> str:
    mean, std = row["test_mse_mean"], row["test_mse_std"] or 0.0
    base, base_std = course["test_mse_mean"], course["test_mse_std"] or 0.0
    if mean + std < base - base_std:
        return "better"
    if mean - std > base + base_std:
        return "worse"
    return "≈"


def table(rows: list[dict], names: list[str]) -> str:
    """Markdown: a row per technique, a column group per net (experiments named net/technique)."""
    by_name = {row["experiment"]: row for row in rows}
    nets = list(dict.fromkeys(name.split("/")[0] for name in names))
    techniques = list(dict.fromkeys(name.split("/")[1] for name in names))
    head, rule = "| technique |", "|---|"
    for net in nets:
        course = by_name[f"{net}/course"]
        layers = "[" + ", ".join(course["layers"].split("-")) + "]"
        head += f" {layers} @ {course['epoch']} epochs | vs course | |"
        rule += "---|---|---|"
    lines = [head, rule]
    for technique in techniques:
        line = f"| {technique} |"
        for net in nets:
            row, course = by_name.get(f"{net}/{technique}"), by_name[f"{net}/course"]
            if row is None:
                line += " – | | |"
                continue
            std = row["test_mse_std"] or 0.0
            change = row["test_mse_mean"] / course["test_mse_mean"] - 1
            diverged = f" ({row['diverged']} diverged)" if row["diverged"] else ""
            line += (f" {row['test_mse_mean']:.5f} ± {std:.5f}{diverged} | {change:+.0%} | "
                     f"{verdict(row, course) if technique != 'course' else ''} |")
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    args = _grid.run(__doc__.splitlines()[0], "jobs/lectures.toml", "results-lectures")
    names = list(dict.fromkeys(name for name, _ in grid.read(args.grid)[1]))
    print(table(report.aggregate(results.read(args.out)), names))


if __name__ == "__main__":
    main()
