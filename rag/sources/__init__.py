"""Reading papers: one parser per input format, all producing the same records."""
