"""Headless, deterministic process model of a rare-earth electrolysis potline.

`Plant` is the entry point; see README.md in this package for the model and the API.
"""

from simulators.process.cell import Cell
from simulators.process.feeder import Feeder
from simulators.process.params import PRODUCTS, Product
from simulators.process.plant import Plant
from simulators.process.rectifier import Rectifier

__all__ = ["PRODUCTS", "Cell", "Feeder", "Plant", "Product", "Rectifier"]
