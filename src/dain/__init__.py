"""dain: a Decentralized AI Network.

Many data owners train one model together; their data never leaves them, and every use
of it is consented, recorded on chain and paid for. See DESIGN.md for the layers.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
