"""The book's experiments (BOOK.md, "Experiments to reproduce"), by id.

One module per figure or group of the book: ``chapter1`` (network.py on MNIST),
``baselines`` (average darkness, SVM), ``saturation`` (the one-neuron widgets),
``chapter3`` (network2.py runs), ``overfitting`` (1,000 images, with and without L2),
``more_data``, ``weight_init``, ``multiple_eta``, ``chapter5`` (depth, speed of learning).
``registry.REGISTRY`` maps ids to ``spec.Experiment``; ``runner`` runs them and writes
results and figures; ``report`` turns a results folder into ``docs/reproduction.md``.
Command line: ``nndl experiment ID`` (``nndl experiment --list``).
"""
