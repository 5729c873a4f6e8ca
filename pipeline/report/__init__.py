"""The progress report: figures per province, district, commune and book.

``figures`` computes them (shared by `hotich status` and `hotich report`), ``charts`` draws
them with matplotlib, ``render`` writes the self-contained HTML file. Nothing is imported
here, so that `hotich status` does not load matplotlib.
"""
