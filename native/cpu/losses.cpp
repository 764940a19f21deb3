// DPO-family and SFT losses (see losses.h). Legend: B pairs, T tokens, h the pair's log-ratio margin.
#include "cpu/losses.h"

#include <cmath>
#include <vector>

namespace stic::train {
namespace {

// -log sigmoid(z) = softplus(-z), without overflow for large |z|.
double negLogSigmoid(double z) { return z >= 0 ? std::log1p(std::exp(-z)) : -z + std::log1p(std::exp(z)); }
double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }

PairLoss preference(PreferenceLoss kind, double h, double beta) {
  switch (kind) {
    case PreferenceLoss::Hinge: return dpo_hinge(h, beta);
    case PreferenceLoss::Ipo: return dpo_ipo(h, beta);
    case PreferenceLoss::Sigmoid: break;
  }
  return dpo_sigmoid(h, beta);
}

}  // namespace

PairLoss dpo_sigmoid(double h, double beta) { return {negLogSigmoid(beta * h), -beta * sigmoid(-beta * h)}; }

PairLoss dpo_hinge(double h, double beta) {
  const double m = 1.0 - beta * h;
  return m > 0 ? PairLoss{m, -beta} : PairLoss{0.0, 0.0};
}

PairLoss dpo_ipo(double h, double beta) {
  const double d = h - 1.0 / (2.0 * beta);
  return {d * d, 2.0 * d};
}

DpoMetrics dpo_loss(float* dChosen, float* dRejected, const DpoBatch& b, const DpoOptions& opt) {
  DpoMetrics m;
  const double over = b.meanOver > 0 ? b.meanOver : static_cast<double>(b.B);
  for (int64_t i = 0; i < b.B; i++) {
    const double pw = b.policyChosen[i], pl = b.policyRejected[i], rw = b.refChosen[i], rl = b.refRejected[i];
    const PairLoss pref = preference(opt.loss, (pw - pl) - (rw - rl), opt.beta);
    // The regulariser -alpha * logp_w (STIC), on the sum or on the per-token mean of the chosen response.
    const double norm = opt.sftNorm == SftNorm::Mean ? static_cast<double>(b.chosenTokens[i]) : 1.0;
    m.loss += (pref.loss - opt.sftWeight * pw / norm) / over;
    dChosen[i] = static_cast<float>((pref.dh - opt.sftWeight / norm) / over);
    dRejected[i] = static_cast<float>(-pref.dh / over);
    const double rc = opt.beta * (pw - rw), rr = opt.beta * (pl - rl);
    m.rewardChosen += rc;
    m.rewardRejected += rr;
    m.rewardAccuracy += rc > rr ? 1.0 : 0.0;
    m.logpChosen += pw;
    m.logpRejected += pl;
  }
  if (b.B > 0) {
    for (double* x : {&m.rewardChosen, &m.rewardRejected, &m.rewardAccuracy, &m.logpChosen, &m.logpRejected}) *x /= b.B;
  }
  m.rewardMargin = m.rewardChosen - m.rewardRejected;
  return m;
}

double sft_loss(float* dlogp, const float* logp, const int64_t* targets, int64_t T, double meanOver) {
  int64_t n = 0;
  for (int64_t t = 0; t < T; t++) n += targets[t] >= 0 ? 1 : 0;
  const double over = meanOver > 0 ? meanOver : static_cast<double>(n);
  double loss = 0;
  for (int64_t t = 0; t < T; t++) {
    const bool on = targets[t] >= 0 && over > 0;
    loss -= on ? logp[t] / over : 0.0;
    dlogp[t] = on ? static_cast<float>(-1.0 / over) : 0.0f;
  }
  return loss;
}

void sum_by_sequence(float* sums, const float* logp, const int64_t* seq, int64_t T, int64_t B) {
  std::vector<double> acc(B, 0.0);
  for (int64_t t = 0; t < T; t++) {
    if (seq[t] >= 0) acc[seq[t]] += logp[t];
  }
  for (int64_t b = 0; b < B; b++) sums[b] = static_cast<float>(acc[b]);
}

void sequence_grad_to_tokens(float* dlogp, const float* dseq, const int64_t* seq, int64_t T) {
  for (int64_t t = 0; t < T; t++) dlogp[t] = seq[t] >= 0 ? dseq[seq[t]] : 0.0f;
}

}  // namespace stic::train
