from fqss_edge.quant.layers.activations import QPReLU, QReLU, QSigmoid, make_activation
from fqss_edge.quant.layers.conv import QConv1d, QConvTranspose1d
from fqss_edge.quant.layers.elementwise import QAdd, QMul, QSub
from fqss_edge.quant.layers.io import InputQuant, InputSplitter, ResidualOutput, split_bytes
from fqss_edge.quant.layers.lstm import QLSTM
from fqss_edge.quant.layers.norm import QGlobalLayerNorm

__all__ = [
    "InputQuant", "InputSplitter", "QAdd", "QConv1d", "QConvTranspose1d", "QGlobalLayerNorm", "QLSTM", "QMul", "QPReLU",
    "QReLU", "QSigmoid", "QSub", "ResidualOutput", "make_activation", "split_bytes",
]
