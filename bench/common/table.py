"""One row type and one table printer for the suite (ours, reference, floor, goal)."""

from __future__ import annotations

from dataclasses import dataclass

#: Goal codes: "ref5" ours >= 5x better than the reference; "ref1" no worse than the reference;
#: "floor2" ours within 2x of the physical floor.
GOALS = {"ref5": ">=5x ref", "ref1": ">=1x ref", "floor2": "<=2x floor"}


@dataclass
class Row:
    """One measured case. ``kind`` says the unit and whether lower is better."""

    section: str
    name: str
    ours: float | None = None
    ref: float | None = None
    floor: float | None = None
    kind: str = "time"  # time | rate | bytes | cpu
    goal: str | None = None
    note: str = ""
    bytes_per_message: int = 0  # for rates: shows MiB/s too

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "rate"

    @property
    def advantage(self) -> float | None:
        """How many times better ours is than the reference (>1: ours better)."""
        if not self.ours or not self.ref:
            return None
        return self.ours / self.ref if self.higher_is_better else self.ref / self.ours

    @property
    def over_floor(self) -> float | None:
        """Ours divided by the physical floor (1.0: no overhead at all)."""
        if not self.ours or not self.floor:
            return None
        return self.ours / self.floor

    @property
    def met(self) -> bool | None:
        """Whether the goal is met (None: no goal, or not measured)."""
        if self.goal == "ref5":
            return None if self.advantage is None else self.advantage >= 5
        if self.goal == "ref1":
            return None if self.advantage is None else self.advantage >= 1
        if self.goal == "floor2":
            return None if self.over_floor is None else self.over_floor <= 2
        return None

    def value(self, number: float | None) -> str:
        """One cell in the row's unit."""
        if number is None:
            return "-"
        if self.kind == "rate":
            text = f"{number:,.0f}/s"
            if self.bytes_per_message:
                text += f" {number * self.bytes_per_message / (1 << 20):.1f} MiB/s"
            return text
        if self.kind == "bytes":
            return f"{number / 1024:,.0f} KiB"
        if self.kind == "cpu":
            return f"{number:.2f} s"
        if number < 1e-3:
            return f"{number * 1e6:.1f} us"
        if number < 1:
            return f"{number * 1e3:.2f} ms"
        return f"{number:.2f} s"


def render(rows: list[Row]) -> str:
    """A Markdown table of the rows (also readable as plain text)."""
    header = ("section", "case", "ours", "reference", "ours better by", "floor", "ours/floor")
    header += ("goal", "met")
    lines = [header]
    for row in rows:
        advantage = f"{row.advantage:.2f}x" if row.advantage is not None else "-"
        over = f"{row.over_floor:.2f}x" if row.over_floor is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        ref = row.note if row.note and row.ref is None else row.value(row.ref)
        ours = row.note if row.note and row.ours is None else row.value(row.ours)
        goal = GOALS.get(row.goal or "", "-")
        lines.append(
            (row.section, row.name, ours, ref, advantage, row.value(row.floor), over, goal, met)
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for number, line in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if number == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)
