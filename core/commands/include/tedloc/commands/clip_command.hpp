#pragma once
// `tedloc clip forward`: runs the native CLIP (and its dense variants) on tensors from a .safetensors file.
#include <string>
#include <vector>

namespace tedloc::clip {

// tedloc clip forward --weights W --inputs IN.safetensors --out OUT.safetensors [--naclip-std 5] ...
// IN holds `images` [N,3,H,W] (normalised) and/or `token_ids` [M,77] (int); optionally
// `zeroshot_token_ids` ([K*T,77] rows k*T+t, or [K,T,77]) and `images_rect`. OUT gets the keys of
// shared/golden/clip/expected.safetensors that those inputs allow. `args` = everything after
// `clip forward`. Returns an ExitCode (error.hpp).
int clip_forward_command(const std::vector<std::string>& args);

}  // namespace tedloc::clip
