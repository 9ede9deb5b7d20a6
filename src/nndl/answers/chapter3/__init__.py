"""Chapter 3, *Improving the way neural networks learn*: derivations, explanations, exercises."""
