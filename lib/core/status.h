// Status and Result<T>: how the library reports errors. It never exits and
// never throws across its public API; apps/ maps a Status to an exit code.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace cvt {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,   // bad value from a caller or a CLI flag
  kInvalidModel,      // corrupt / truncated / inconsistent model file
  kUnsupported,       // op, opset, attribute value or dtype we do not implement
  kShapeMismatch,     // tensor shapes that do not fit together
  kLimitExceeded,     // untrusted size beyond a sane bound
  kIoError,           // file missing / unreadable / unwritable
  kDecodeError,       // image or data that fails to decode
  kChecksumMismatch,  // sha256 differs from the manifest
  kNotFound,          // name not found (model, input, label)
  kInternal,
};

const char* error_code_name(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }
  bool is_ok() const { return code_ == ErrorCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Prefix context, e.g. "node 'Conv_3': " + message.
  Status with_context(const std::string& context) const {
    if (is_ok()) return *this;
    return Status(code_, context + ": " + message_);
  }
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Status invalid_model(std::string m) { return {ErrorCode::kInvalidModel, std::move(m)}; }
inline Status unsupported(std::string m) { return {ErrorCode::kUnsupported, std::move(m)}; }
inline Status shape_mismatch(std::string m) { return {ErrorCode::kShapeMismatch, std::move(m)}; }
inline Status limit_exceeded(std::string m) { return {ErrorCode::kLimitExceeded, std::move(m)}; }
inline Status io_error(std::string m) { return {ErrorCode::kIoError, std::move(m)}; }
inline Status internal_error(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {
    if (std::get<Status>(v_).is_ok()) v_ = Status(ErrorCode::kInternal, "Result constructed from OK status");
  }
  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cvt

#define CVT_CONCAT_INNER(a, b) a##b
#define CVT_CONCAT(a, b) CVT_CONCAT_INNER(a, b)

// Return early from a function returning Status / Result<T> when `expr` fails.
#define CVT_RETURN_IF_ERROR(expr)               \
  do {                                          \
    ::cvt::Status cvt_status_ = (expr);         \
    if (!cvt_status_.is_ok()) return cvt_status_; \
  } while (0)

// CVT_ASSIGN_OR_RETURN(auto x, make_x());  (several statements: brace it under an if)
#define CVT_ASSIGN_OR_RETURN(decl, expr) \
  CVT_ASSIGN_OR_RETURN_IMPL(CVT_CONCAT(cvt_result_, __LINE__), decl, expr)
#define CVT_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                               \
  if (!tmp.is_ok()) return tmp.status();           \
  decl = std::move(tmp).value()

// Validation that produces an error Status (for untrusted input paths).
#define CVT_CHECK(cond, code, msg)                                  \
  do {                                                              \
    if (!(cond)) return ::cvt::Status((code), (msg));               \
  } while (0)

// Internal invariants in kernels: never for untrusted input.
#if !defined(NDEBUG) || defined(CVT_ENABLE_ASSERTS)
#define CVT_ASSERT(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: CVT_ASSERT failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)
#else
#define CVT_ASSERT(cond) ((void)0)
#endif
