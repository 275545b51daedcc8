"""kerasforge's workflows: the pipeline's stages and the commands that run them.

- stages.py: the one description of every stage (what it reads and writes), from which dvc.yaml is generated;
- prepare.py, augment.py, train.py, evaluate.py: the stage functions, one module each;
- pipeline.py: all the stages in one process, in a run directory (the direct command line, sweeps, studies);
- compose.py, schema.py, experiment.py: the config — composition, validation, assembly of Keras objects;
- datastore.py: the byte-reproducible on-disk format of the data between stages.

Importing this package imports nothing heavy: each command imports TensorFlow only if it needs it.
"""
