"""The report's sections, one module each. A section is one function of the run that was read:

    def section(run: Run, page: Page) -> list[str]:   # Markdown lines, a "## Title" first

It draws its figures to `page.png(kind, name)` and adds what it could not show to `page.missing`.
`report.write_report` lists the sections in page order (`SECTIONS`); the head of the page (title,
"At a glance", "Not in this report") comes before them.
"""
