"""File-dialog filters shared by the window and its panels."""

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"
MODEL_FILTER = "SinDDM models (*.sinddm)"
