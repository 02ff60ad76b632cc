"""Training: methods (float, ptq, vanilla, fqss), losses and the loop."""
