"""Reports and figures: the tumour-board summary (text, Markdown), plan and response
reports (HTML, PDF) and plots (DVHs, Kaplan-Meier, dose-response, waterfall, spider).

An adapter: it renders what the core computed and is the only layer that draws
(:mod:`netlm.report.figures`, matplotlib's object API).
"""
