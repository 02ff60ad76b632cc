"""Export of trained FQSS models to int8 ONNX (QDQ) and TFLite; installed as ``fqss_edge.export``."""
