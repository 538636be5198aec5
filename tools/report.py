"""Write a generated section into a Markdown report, between its begin and end markers."""

import re
from pathlib import Path


def write_section(path: Path, name: str, section: str, *, heading: str, title: str) -> None:
    """Replace what stands between `<!-- name:begin -->` and `<!-- name:end -->` in `path`;
    without the markers yet, append them under `heading` (and create the file as `title`)."""
    text = path.read_text() if path.exists() else f"# {title}\n"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{section}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = f"{text.rstrip()}\n\n## {heading}\n\n{block}\n"
    path.write_text(text)
