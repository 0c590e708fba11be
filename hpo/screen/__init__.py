"""The first stage: every architecture trained at matched size on the same data and budget, at each
latent size, beside PCA of the same size, and ranked (`python -m hpo.screen`).

    from hpo.screen import ScreenConfig, screen
    result = screen(ScreenConfig(latent=(8, 16)), data)

What it hands the second stage is a ScreenRecord (hpo.screen.record), stored on the study
`<run>-screen`. The implementation lives in the modules beside this one; this is the public surface.
"""

from hpo.screen.config import DEFAULT_LATENTS, ScreenConfig, parse_latents, quick, validate
from hpo.screen.screening import ScreenResult, latent_of, screen, study_name

__all__ = [
    "DEFAULT_LATENTS",
    "ScreenConfig",
    "ScreenResult",
    "latent_of",
    "parse_latents",
    "quick",
    "screen",
    "study_name",
    "validate",
]
