// Anchor transforms: identity, qr (the paper's orthogonalisation) and lowdin (order-independent).
// The equations live in core/method/anchors.cpp; this file only exposes them as plugins.
#include <tedloc/method/anchors.hpp>
#include <tedloc/plugin/anchor_transform.hpp>

namespace {

using AnchorFunction = tedloc::Anchors (*)(const torch::Tensor&);

template <AnchorFunction F>
struct Transform final : tedloc::AnchorTransform {
  explicit Transform(const tedloc::Params&) {}
  tedloc::Anchors transform(const torch::Tensor& text_embeddings) override { return F(text_embeddings); }
};

}  // namespace

TEDLOC_PLUGINS(registrar) {
  registrar.add<tedloc::AnchorTransform, Transform<tedloc::method::identity_anchors>>(
      {"identity", "1.0.0", "the text embeddings as they are", {}});
  registrar.add<tedloc::AnchorTransform, Transform<tedloc::method::qr_anchors>>(
      {"qr", "1.0.0",
       "Gram-Schmidt (QR) orthogonalisation, the paper's: orthonormal rows if K <= d, a tight frame if K > d", {}});
  registrar.add<tedloc::AnchorTransform, Transform<tedloc::method::lowdin_anchors>>(
      {"lowdin", "1.0.0", "Loewdin symmetric orthogonalisation: closest orthonormal anchors, class-order free", {}});
}
