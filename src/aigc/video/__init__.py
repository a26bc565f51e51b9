"""Video: Moving MNIST frame prediction (ConvLSTM, SimVP), frame interpolation, GIF/MP4 outputs."""
