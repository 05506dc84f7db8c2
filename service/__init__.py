"""distillwatch service: wires the detector to files, Redis, FastAPI and workers."""
