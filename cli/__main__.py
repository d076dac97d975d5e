"""`python -m cli …` runs the `sinddm` command."""

import sys

from cli.main import main

sys.exit(main())
