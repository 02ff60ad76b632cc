from fqss_edge.quant.layers.activations import QPReLU, QReLU, QSigmoid, QTanh, make_activation
from fqss_edge.quant.layers.attention import QMatMul, QPositionalEncoding, QSoftmax
from fqss_edge.quant.layers.conv import QConv1d, QConvTranspose1d
from fqss_edge.quant.layers.elementwise import QAdd, QMul, QSub
from fqss_edge.quant.layers.io import InputQuant, InputSplitter, ResidualOutput, split_bytes
from fqss_edge.quant.layers.lstm import QLSTM
from fqss_edge.quant.layers.norm import QGlobalLayerNorm, QLayerNorm
from fqss_edge.quant.layers.shape import GapPad, LengthCrop, QConcat, QPad, QSlice

__all__ = [
    "GapPad", "InputQuant", "InputSplitter", "LengthCrop", "QAdd", "QConcat", "QConv1d", "QConvTranspose1d",
    "QGlobalLayerNorm", "QLSTM", "QLayerNorm", "QMatMul", "QMul", "QPReLU", "QPad", "QPositionalEncoding", "QReLU",
    "QSigmoid", "QSlice", "QSoftmax", "QSub", "QTanh",
    "ResidualOutput", "make_activation", "split_bytes",
]
