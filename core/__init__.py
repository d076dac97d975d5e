"""SinDDM Studio core: the SinDDM method (Kulikov et al., ICML 2023) as a library.

Nothing in this package imports Qt, prints, or writes files from inside a loop; the GUI (`app`)
and the command line (`cli`) are thin layers over it.
"""

__version__ = "0.1.0"
