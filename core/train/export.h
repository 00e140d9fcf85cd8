// What a shipped model keeps of a training checkpoint.
#pragma once
#include "core/train/checkpoint.h"

namespace diffuse {

// Drops the tensors of the parts only training uses (the recipe's model.train_only name
// prefixes, e.g. a vocoder's "discriminator.") from the weights, EMA and moments, and the list.
void drop_training_only(Checkpoint& ck);

}  // namespace diffuse
