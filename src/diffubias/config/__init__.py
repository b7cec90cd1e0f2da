"""Typed, frozen, strict views of ``params.yaml``: one pydantic dataclass per section.

``params.yaml`` is the project's single source of configuration. Each section maps onto a frozen
pydantic dataclass (grouped by concept in ``core``, ``diffubias``, ``foundation``, ``ddb``, ``ffr``;
shared types and error wording in ``schema``) whose defaults equal ``params.yaml``'s values;
:func:`load_params` builds :class:`Params` and rejects unknown keys, wrongly typed values and
out-of-range values at load time with the key's dotted name.
"""
from diffubias.config.core import (BiasedParams, DataParams, DFRParams, GridParams, GroupDROParams, JTTParams,
                                   LfFParams, ResampleParams, TrackingParams, TrainParams, WorldParams)
from diffubias.config.ddb import (DDBAblationParams, DDBAmplifierParams, DDBDiffusionParams, DDBRecipe1Params,
                                  DDBRecipe2Params, DDBSampleParams)
from diffubias.config.diffubias import (CaptionParams, DebiasedParams, GenerateParams, MineParams,
                                        TextFilterParams)
from diffubias.config.ffr import FFR_RUN_DEFAULTS, FFRParams
from diffubias.config.foundation import (CaptionerParams, CorpusParams, FoundationEvalParams, ReferenceParams,
                                         T2IParams)
from diffubias.config.params import PARAMS_FILE, Params, as_flat_dict, build_section, load_params, parse_params

__all__ = [
    "PARAMS_FILE", "FFR_RUN_DEFAULTS", "Params", "as_flat_dict", "build_section", "load_params", "parse_params",
    "GridParams", "WorldParams", "DataParams", "TrainParams", "BiasedParams", "LfFParams", "GroupDROParams",
    "ResampleParams", "DFRParams", "JTTParams", "TrackingParams",
    "MineParams", "CaptionParams", "TextFilterParams", "GenerateParams", "DebiasedParams",
    "CorpusParams", "T2IParams", "CaptionerParams", "ReferenceParams", "FoundationEvalParams",
    "DDBDiffusionParams", "DDBSampleParams", "DDBAmplifierParams", "DDBRecipe1Params", "DDBRecipe2Params",
    "DDBAblationParams", "FFRParams",
]
