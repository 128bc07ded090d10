"""The models casebot loads: the sentence encoder (torch, for builds), its ONNX export (for queries),
and the optional reader's GGUF file."""
