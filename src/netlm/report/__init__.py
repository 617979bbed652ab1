"""Reports: the tumour-board summary (text, Markdown)."""
