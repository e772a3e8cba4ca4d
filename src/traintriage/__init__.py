"""traintriage: diagnose ML training runs from their artifacts.

Importing the package is cheap on purpose (the MCP server must answer ``initialize`` fast):
heavy modules (scipy, tbparse, tensorboard, torch) are imported only by the code that needs them.
"""

__version__ = "0.1.0"
