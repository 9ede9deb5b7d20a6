"""Chapter 5, *Why are deep neural networks hard to train?*: explanations, exercises."""
