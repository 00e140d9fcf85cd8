// The precompiled header shared by every diffuse target: the torch headers nearly every file
// uses. Parsing them costs ~20 s per translation unit on 2 cores; precompiled, ~1 s.
#pragma once
#include <torch/types.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/serialize.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>
