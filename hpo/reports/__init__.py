"""What the stages show: plotly HTML pages (figures, screen, optimize) and the text tables the CLIs
print (tables). Drawn from what is stored; nothing here trains."""
