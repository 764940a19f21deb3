// DPO-family and SFT losses on the GPU (see losses.cuh; the formulas and their papers are in
// native/cpu/losses.h/.cpp). Legend: B pairs or sequences, T tokens, h the pair's log-ratio margin.
#include "cuda/common.cuh"
#include "cuda/losses.cuh"

namespace stic::cuda {
namespace {

constexpr int kLossThreads = 256;

// -log sigmoid(z) = softplus(-z) and sigmoid(z), stable for large |z| (losses.cpp).
__device__ double negLogSigmoid(double z) { return z >= 0 ? log1p(exp(-z)) : -z + log1p(exp(z)); }
__device__ double sigmoidD(double z) { return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)); }

// The value and dL/dh of one pair's preference loss.
__device__ void preference(train::PreferenceLoss kind, double h, double beta, double* loss, double* dh) {
  switch (kind) {
    case train::PreferenceLoss::Hinge: {
      const double m = 1.0 - beta * h;
      *loss = m > 0 ? m : 0.0;
      *dh = m > 0 ? -beta : 0.0;
      return;
    }
    case train::PreferenceLoss::Ipo: {
      const double d = h - 1.0 / (2.0 * beta);
      *loss = d * d;
      *dh = 2.0 * d;
      return;
    }
    case train::PreferenceLoss::Sigmoid: break;
  }
  *loss = negLogSigmoid(beta * h);
  *dh = -beta * sigmoidD(-beta * h);
}

__global__ void dpoLossKernel(float* dChosen, float* dRejected, train::DpoMetrics* metrics, train::DpoBatch b,
                              train::DpoOptions opt) {
  __shared__ double red[32];
  const double over = b.meanOver > 0 ? b.meanOver : static_cast<double>(b.B);
  double loss = 0, rcSum = 0, rrSum = 0, accSum = 0, pwSum = 0, plSum = 0;
  for (int64_t i = threadIdx.x; i < b.B; i += blockDim.x) {
    const double pw = b.policyChosen[i], pl = b.policyRejected[i], rw = b.refChosen[i], rl = b.refRejected[i];
    double pLoss, pDh;
    preference(opt.loss, (pw - pl) - (rw - rl), opt.beta, &pLoss, &pDh);
    const double norm = opt.sftNorm == train::SftNorm::Mean ? static_cast<double>(b.chosenTokens[i]) : 1.0;
    loss += (pLoss - opt.sftWeight * pw / norm) / over;
    dChosen[i] = static_cast<float>((pDh - opt.sftWeight / norm) / over);
    dRejected[i] = static_cast<float>(-pDh / over);
    const double rc = opt.beta * (pw - rw), rr = opt.beta * (pl - rl);
    rcSum += rc;
    rrSum += rr;
    accSum += rc > rr ? 1.0 : 0.0;
    pwSum += pw;
    plSum += pl;
  }
  loss = blockSum(loss, red);
  rcSum = blockSum(rcSum, red);
  rrSum = blockSum(rrSum, red);
  accSum = blockSum(accSum, red);
  pwSum = blockSum(pwSum, red);
  plSum = blockSum(plSum, red);
  if (threadIdx.x != 0) return;
  const double n = b.B > 0 ? static_cast<double>(b.B) : 1.0;  // the CPU twin divides only when B > 0
  train::DpoMetrics m;
  m.loss = loss;
  m.rewardChosen = rcSum / n;
  m.rewardRejected = rrSum / n;
  m.rewardAccuracy = accSum / n;
  m.logpChosen = pwSum / n;
  m.logpRejected = plSum / n;
  m.rewardMargin = m.rewardChosen - m.rewardRejected;
  *metrics = m;
}

__global__ void sftLossKernel(float* dlogp, double* lossOut, const float* __restrict__ logp,
                              const int64_t* __restrict__ targets, int64_t T, double meanOver) {
  __shared__ double red[32];
  double n = 0;
  for (int64_t t = threadIdx.x; t < T; t += blockDim.x) n += targets[t] >= 0 ? 1.0 : 0.0;
  n = blockSum(n, red);  // exact: a count below 2^53
  const double over = meanOver > 0 ? meanOver : n;
  double loss = 0;
  for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
    const bool on = targets[t] >= 0 && over > 0;
    loss -= on ? static_cast<double>(logp[t]) / over : 0.0;
    dlogp[t] = on ? static_cast<float>(-1.0 / over) : 0.0f;
  }
  loss = blockSum(loss, red);
  if (threadIdx.x == 0) *lossOut = loss;
}

__global__ void sumBySequenceKernel(float* sums, const float* __restrict__ logp, const int64_t* __restrict__ seq, int64_t T) {
  __shared__ double red[32];
  const int64_t b = blockIdx.x;
  double s = 0;
  for (int64_t t = threadIdx.x; t < T; t += blockDim.x) s += seq[t] == b ? static_cast<double>(logp[t]) : 0.0;
  s = blockSum(s, red);
  if (threadIdx.x == 0) sums[b] = static_cast<float>(s);
}

__global__ void sequenceGradKernel(float* dlogp, const float* __restrict__ dseq, const int64_t* __restrict__ seq, int64_t T) {
  for (size_t t = globalIndex(); t < static_cast<size_t>(T); t += gridStride()) dlogp[t] = seq[t] >= 0 ? dseq[seq[t]] : 0.0f;
}

}  // namespace

Status dpo_loss(float* dChosen, float* dRejected, train::DpoMetrics* metrics, const train::DpoBatch& batch,
                const train::DpoOptions& opt, cudaStream_t stream) {
  STIC_CHECK_ARG(batch.B >= 0, "cuda dpo_loss: expected B >= 0 but received ", batch.B);
  STIC_CHECK_ARG(opt.sftNorm != train::SftNorm::Mean || batch.chosenTokens != nullptr,
                 "cuda dpo_loss: sftNorm mean needs the chosen token counts");
  dpoLossKernel<<<1, kLossThreads, 0, stream>>>(dChosen, dRejected, metrics, batch, opt);
  return launchStatus("dpo_loss");
}

Status sft_loss(float* dlogp, double* loss, const float* logp, const int64_t* targets, int64_t T, double meanOver,
                cudaStream_t stream) {
  sftLossKernel<<<1, 1024, 0, stream>>>(dlogp, loss, logp, targets, T, meanOver);
  return launchStatus("sft_loss");
}

Status sum_by_sequence(float* sums, const float* logp, const int64_t* seq, int64_t T, int64_t B, cudaStream_t stream) {
  if (B <= 0) return Status::ok();
  STIC_CHECK_ARG(B <= 2147483647LL, "cuda sum_by_sequence: expected B < 2^31 but received ", B);
  sumBySequenceKernel<<<static_cast<unsigned>(B), kLossThreads, 0, stream>>>(sums, logp, seq, T);
  return launchStatus("sum_by_sequence");
}

Status sequence_grad_to_tokens(float* dlogp, const float* dseq, const int64_t* seq, int64_t T, cudaStream_t stream) {
  if (T <= 0) return Status::ok();
  sequenceGradKernel<<<blocksFor(T), kThreads, 0, stream>>>(dlogp, dseq, seq, T);
  return launchStatus("sequence_grad_to_tokens");
}

}  // namespace stic::cuda
