"""PyMC building blocks that any model family composes: priors as random variables and the
free-parameter vector (`parameters`), RAM algebra (`ram`), LKJ correlations (`lkj`), latent
scores (`scores`) and ordinal thresholds (`ordinal`). They build pieces inside a model context and
know no family."""
