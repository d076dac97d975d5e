"""SinDDM Studio: `python main.py [IMAGE_OR_MODEL]` opens the app (the bundled demo by default)."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
