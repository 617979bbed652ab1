"""Reports and figures: board, plan and response summaries as Markdown, HTML and PDF
(PDF/A-3b, WeasyPrint), the voxel-dose report, and plots (DVHs, Kaplan-Meier,
dose-response, waterfall, spider) with the DVH CSV.

An adapter: it renders what the core computed and is the only layer that draws
(:mod:`netlm.report.figures`, matplotlib's object API).  The lines of the CLI's
tables come from here too; the tables themselves (Rich) are :mod:`netlm.commands.render`.
"""
