// crsim: the LU factorisation of the Rosenbrock stage matrix W = c I - D J D^-1 (c = 1 / (gamma h),
// D the stepper's equilibration), built on the structure of the model's Jacobian.
//
// The sparsity pattern of J (Model::jacobian_pattern, from the model source) is analysed once per
// stepper: the strongly connected components of its dependency graph (state i depends on state j
// when J_ij may be nonzero; Tarjan's algorithm), ordered so that every component comes after the
// components it depends on, give a symmetric permutation P with P W P^T block lower triangular
// (Duff & Reid's block triangular form; the CRS model: components of 6, 5, 3, 2, 2 states and 22
// singletons). Only the diagonal blocks are factored, each by a plain unblocked LU with partial
// pivoting within the block, and a solve is a block forward substitution with the sparse entries
// below the diagonal blocks. This is the exact LU of W (off-diagonal blocks are never modified by
// elimination), at a few hundred flops for the CRS model instead of 2 n^3 / 3 = 22,000, and with
// none of the blocked-algorithm overhead Eigen's PartialPivLU carries at n = 32 (9-19 us there
// against ~3 us for an unblocked LU; tests/cpp/test_block_lu.cpp, bench/README.md).
//
// Pivoting stays within a diagonal block, so the equilibration D (which keeps the pivots meaningful
// when the states span many orders of magnitude) matters as before. A dense pattern (a model
// without one) is one block when every state reaches every other: the unblocked LU of the whole
// matrix. If J ever holds a nonzero outside the declared pattern (a model compiler bug), factor()
// reports it and the caller falls back to the dense pattern.
#pragma once

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace crsim {
namespace detail {

class BlockLU {
public:
    using Pattern = std::vector<std::pair<int, int>>;

    BlockLU() = default;
    // n: size; pattern: (row, col) of the entries of J that may be nonzero (duplicates and the
    // diagonal allowed; the diagonal of W is always kept).
    BlockLU(int n, const Pattern& pattern) { analyse(n, pattern); }

    // Every entry of an n x n matrix.
    static Pattern dense_pattern(int n) {
        Pattern p;
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) p.emplace_back(i, j);
        return p;
    }

    void analyse(int n, const Pattern& pattern);

    int size() const { return n_; }
    int blocks() const { return static_cast<int>(start_.size()) - 1; }
    int block_size(int b) const { return start_[static_cast<std::size_t>(b) + 1] - start_[static_cast<std::size_t>(b)]; }
    // Permuted position k holds original index perm()[k].
    const std::vector<int>& perm() const { return perm_; }
    const std::vector<int>& block_starts() const { return start_; }

    // Factors W = c I - diag(s) J diag(s)^-1 with J row-major n x n (original order). Returns false
    // (and factors nothing) when J has a finite nonzero entry outside the pattern.
    bool factor(const double* J, const double* s, double c);

    // v <- W^-1 v (original order), in place; v of length n.
    void solve(double* v) const;

    // Entries outside the pattern (row-major flat indices into J), for the check in factor().
    const std::vector<int>& outside() const { return outside_; }

private:
    int n_ = 0;
    std::vector<int> perm_, iperm_;
    std::vector<int> start_;       // block b = permuted positions [start_[b], start_[b+1])
    std::vector<int> boff_;        // block b's dense LU at lu_[boff_[b]], row-major size x size
    std::vector<double> lu_;
    std::vector<int> piv_;         // per permuted row: the local row swapped in at that step
    // Diagonal-block entries: flat index into lu_, source index into J (row-major), and the
    // original row and column (for the scaling).
    std::vector<int> d_dst_, d_src_, d_row_, d_col_;
    std::vector<int> d_diag_;      // lu_ index of each permuted diagonal entry
    // Entries below the diagonal blocks, by permuted row (CSR): permuted column, J index, value.
    std::vector<int> o_ptr_, o_col_, o_src_, o_row_orig_, o_col_orig_;
    std::vector<double> o_val_;
    std::vector<int> outside_;
    mutable std::vector<double> tmp_;
};

inline void BlockLU::analyse(int n, const Pattern& pattern_in) {
    n_ = n;
    Pattern pattern = pattern_in;
    for (int i = 0; i < n; ++i) pattern.emplace_back(i, i);
    std::sort(pattern.begin(), pattern.end());
    pattern.erase(std::unique(pattern.begin(), pattern.end()), pattern.end());

    // Dependency graph: i -> j when J_ij may be nonzero (f_i depends on x_j).
    std::vector<std::vector<int>> adj(static_cast<std::size_t>(n));
    for (const auto& e : pattern) adj[static_cast<std::size_t>(e.first)].push_back(e.second);

    // Tarjan's strongly connected components (iterative). Components are completed in reverse
    // topological order of the condensation: a component is completed after every component it
    // reaches, i.e. after the components it depends on, which is the order we want.
    std::vector<int> index(static_cast<std::size_t>(n), -1), low(static_cast<std::size_t>(n), 0), comp(static_cast<std::size_t>(n), -1);
    std::vector<char> on_stack(static_cast<std::size_t>(n), 0);
    std::vector<int> stack, order;
    std::vector<std::pair<int, std::size_t>> call;  // (node, next edge)
    int counter = 0, ncomp = 0;
    start_.assign(1, 0);
    for (int root = 0; root < n; ++root) {
        if (index[static_cast<std::size_t>(root)] >= 0) continue;
        call.emplace_back(root, 0);
        while (!call.empty()) {
            const int v = call.back().first;
            const auto sv = static_cast<std::size_t>(v);
            if (call.back().second == 0 && index[sv] < 0) {
                index[sv] = low[sv] = counter++;
                stack.push_back(v);
                on_stack[sv] = 1;
            }
            bool descended = false;
            while (call.back().second < adj[sv].size()) {
                const int w = adj[sv][call.back().second++];
                const auto sw = static_cast<std::size_t>(w);
                if (index[sw] < 0) {
                    call.emplace_back(w, 0);
                    descended = true;
                    break;
                }
                if (on_stack[sw]) low[sv] = std::min(low[sv], index[sw]);
            }
            if (descended) continue;
            if (low[sv] == index[sv]) {  // v is the root of a component
                for (;;) {
                    const int w = stack.back();
                    stack.pop_back();
                    on_stack[static_cast<std::size_t>(w)] = 0;
                    comp[static_cast<std::size_t>(w)] = ncomp;
                    order.push_back(w);
                    if (w == v) break;
                }
                ++ncomp;
                start_.push_back(static_cast<int>(order.size()));
            }
            call.pop_back();
            if (!call.empty()) {
                const auto su = static_cast<std::size_t>(call.back().first);
                low[su] = std::min(low[su], low[sv]);
            }
        }
    }
    // Within a component keep the original order (stable, easier to read in a debugger).
    for (int b = 0; b + 1 < static_cast<int>(start_.size()); ++b)
        std::sort(order.begin() + start_[static_cast<std::size_t>(b)], order.begin() + start_[static_cast<std::size_t>(b) + 1]);
    perm_ = order;
    iperm_.assign(static_cast<std::size_t>(n), 0);
    for (int k = 0; k < n; ++k) iperm_[static_cast<std::size_t>(perm_[static_cast<std::size_t>(k)])] = k;

    // Storage of the diagonal blocks.
    const int nb = static_cast<int>(start_.size()) - 1;
    std::vector<int> block_of(static_cast<std::size_t>(n));
    boff_.assign(static_cast<std::size_t>(nb), 0);
    int off = 0;
    for (int b = 0; b < nb; ++b) {
        boff_[static_cast<std::size_t>(b)] = off;
        const int s = block_size(b);
        off += s * s;
        for (int k = start_[static_cast<std::size_t>(b)]; k < start_[static_cast<std::size_t>(b) + 1]; ++k)
            block_of[static_cast<std::size_t>(k)] = b;
    }
    lu_.assign(static_cast<std::size_t>(off), 0.0);
    piv_.assign(static_cast<std::size_t>(n), 0);
    tmp_.assign(static_cast<std::size_t>(n), 0.0);

    d_dst_.clear();
    d_src_.clear();
    d_row_.clear();
    d_col_.clear();
    d_diag_.assign(static_cast<std::size_t>(n), 0);
    std::vector<std::vector<std::pair<int, int>>> below(static_cast<std::size_t>(n));  // (perm col, orig (i, j))
    std::vector<char> in_pattern(static_cast<std::size_t>(n) * static_cast<std::size_t>(n), 0);
    for (const auto& e : pattern) {
        const int i = e.first, j = e.second;
        in_pattern[static_cast<std::size_t>(i) * static_cast<std::size_t>(n) + static_cast<std::size_t>(j)] = 1;
        const int pi = iperm_[static_cast<std::size_t>(i)], pj = iperm_[static_cast<std::size_t>(j)];
        const int bi = block_of[static_cast<std::size_t>(pi)], bj = block_of[static_cast<std::size_t>(pj)];
        if (bi == bj) {
            const int s = block_size(bi), r = pi - start_[static_cast<std::size_t>(bi)], c = pj - start_[static_cast<std::size_t>(bi)];
            const int dst = boff_[static_cast<std::size_t>(bi)] + r * s + c;
            if (i == j) d_diag_[static_cast<std::size_t>(pi)] = dst;
            d_dst_.push_back(dst);
            d_src_.push_back(i * n + j);
            d_row_.push_back(i);
            d_col_.push_back(j);
        } else {
            // bj < bi: components are ordered dependencies first
            below[static_cast<std::size_t>(pi)].emplace_back(pj, i * n + j);
        }
    }
    o_ptr_.assign(1, 0);
    o_col_.clear();
    o_src_.clear();
    o_row_orig_.clear();
    o_col_orig_.clear();
    for (int k = 0; k < n; ++k) {
        auto& row = below[static_cast<std::size_t>(k)];
        std::sort(row.begin(), row.end());
        for (const auto& e : row) {
            o_col_.push_back(e.first);
            o_src_.push_back(e.second);
            o_row_orig_.push_back(e.second / n);
            o_col_orig_.push_back(e.second % n);
        }
        o_ptr_.push_back(static_cast<int>(o_col_.size()));
    }
    o_val_.assign(o_col_.size(), 0.0);
    outside_.clear();
    for (int f = 0; f < n * n; ++f)
        if (!in_pattern[static_cast<std::size_t>(f)]) outside_.push_back(f);
}

inline bool BlockLU::factor(const double* J, const double* s, double c) {
    for (int f : outside_)
        if (J[f] != 0.0 && std::isfinite(J[f])) return false;
    double* inv = tmp_.data();  // 1 / s (tmp_ is free until solve)
    for (int k = 0; k < n_; ++k) inv[k] = 1.0 / s[k];
    std::fill(lu_.begin(), lu_.end(), 0.0);
    for (std::size_t e = 0; e < d_dst_.size(); ++e)
        lu_[static_cast<std::size_t>(d_dst_[e])] = -s[d_row_[e]] * J[d_src_[e]] * inv[d_col_[e]];
    for (int k = 0; k < n_; ++k) lu_[static_cast<std::size_t>(d_diag_[static_cast<std::size_t>(k)])] += c;
    for (std::size_t e = 0; e < o_src_.size(); ++e)
        o_val_[e] = -s[o_row_orig_[e]] * J[o_src_[e]] * inv[o_col_orig_[e]];
    // Unblocked LU with partial pivoting of each diagonal block (row-major, in place).
    const int nb = blocks();
    for (int b = 0; b < nb; ++b) {
        const int m = block_size(b), p0 = start_[static_cast<std::size_t>(b)];
        double* A = lu_.data() + boff_[static_cast<std::size_t>(b)];
        for (int k = 0; k < m; ++k) {
            int p = k;
            double best = std::abs(A[k * m + k]);
            for (int i = k + 1; i < m; ++i) {
                const double a = std::abs(A[i * m + k]);
                if (a > best) {
                    best = a;
                    p = i;
                }
            }
            piv_[static_cast<std::size_t>(p0 + k)] = p;
            if (p != k)
                for (int j = 0; j < m; ++j) std::swap(A[k * m + j], A[p * m + j]);
            const double d = A[k * m + k];
            if (d == 0.0) continue;  // singular block: the solve yields Inf/NaN and the step is rejected
            const double rd = 1.0 / d;
            for (int i = k + 1; i < m; ++i) {
                double* Ai = A + i * m;
                const double l = Ai[k] * rd;
                Ai[k] = l;
                if (l == 0.0) continue;
                const double* Ak = A + k * m;
                for (int j = k + 1; j < m; ++j) Ai[j] -= l * Ak[j];
            }
        }
    }
    return true;
}

inline void BlockLU::solve(double* v) const {
    double* x = tmp_.data();
    for (int k = 0; k < n_; ++k) x[k] = v[perm_[static_cast<std::size_t>(k)]];
    const int nb = blocks();
    for (int b = 0; b < nb; ++b) {
        const int m = block_size(b), p0 = start_[static_cast<std::size_t>(b)];
        // right-hand side of the block: minus the entries left of it times the solved unknowns
        for (int k = p0; k < p0 + m; ++k) {
            double acc = x[k];
            for (int e = o_ptr_[static_cast<std::size_t>(k)]; e < o_ptr_[static_cast<std::size_t>(k) + 1]; ++e)
                acc -= o_val_[static_cast<std::size_t>(e)] * x[o_col_[static_cast<std::size_t>(e)]];
            x[k] = acc;
        }
        const double* A = lu_.data() + boff_[static_cast<std::size_t>(b)];
        double* xb = x + p0;
        if (m == 1) {
            xb[0] /= A[0];
            continue;
        }
        for (int k = 0; k < m; ++k) {
            const int p = piv_[static_cast<std::size_t>(p0 + k)];
            if (p != k) std::swap(xb[k], xb[p]);
        }
        for (int i = 1; i < m; ++i) {  // L y = P b (unit lower)
            double acc = xb[i];
            for (int j = 0; j < i; ++j) acc -= A[i * m + j] * xb[j];
            xb[i] = acc;
        }
        for (int i = m - 1; i >= 0; --i) {  // U x = y
            double acc = xb[i];
            for (int j = i + 1; j < m; ++j) acc -= A[i * m + j] * xb[j];
            xb[i] = acc / A[i * m + i];
        }
    }
    for (int k = 0; k < n_; ++k) v[perm_[static_cast<std::size_t>(k)]] = x[k];
}

}  // namespace detail
}  // namespace crsim
