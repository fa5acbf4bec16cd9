"""The evidence report rendered as Markdown (figures as files under ``img/``)."""

from __future__ import annotations

from iabp.proofs.report.model import Block, Code, Image, Para, Section, Span, Table


def _md_text(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _span_md(s: Span) -> str:
    if s.code:
        fence = "``" if "`" in s.text else "`"
        text = f"{fence}{_md_text(s.text)}{fence}"
    else:
        text = _md_text(s.text)
    if s.cls and not s.code:
        text = f"**{text.strip()}**" + (" " if s.text.endswith(" ") else "")
    text = f"[{text}]({s.href})" if s.href else text
    return f'<a id="{s.anchor}"></a>{text}' if s.anchor else text


def _block_md(b: Block) -> list[str]:
    if isinstance(b, Para):
        return ["".join(_span_md(s) for s in b.spans), ""]
    if isinstance(b, Table):
        rows = ["| " + " | ".join(_md_text(h) for h in b.headers) + " |",
                "|" + "---|" * len(b.headers)]
        rows += ["| " + " | ".join("".join(_span_md(s) for s in c) for c in r) + " |"
                 for r in b.rows]
        return [*rows, ""]
    if isinstance(b, Code):
        return ["```text", b.text, "```", ""]
    if isinstance(b, Image):
        return [f"![{b.alt}](img/{b.name}.{'svg' if b.svg is not None else 'png'})", ""]
    head = [f'<a id="{b.anchor}"></a>', ""] if b.anchor else []
    return [*head, f"**{_md_text(b.summary)}**", "", *(x for y in b.blocks for x in _block_md(y))]


def render_markdown(title: str, sections: list[Section]) -> str:
    """The same content as Markdown (figures as files under ``img/``)."""
    out = [f"# {title}", ""]
    out += [f"- [{s.title}](#{s.anchor})" for s in sections if s.level == 2] + [""]
    for s in sections:
        out += [f'<a id="{s.anchor}"></a>', "", f"{'#' * s.level} {s.title}", ""]
        for b in s.blocks:
            out += _block_md(b)
    return "\n".join(out)
