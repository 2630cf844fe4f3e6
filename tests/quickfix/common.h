// Shared helpers for the QuickFIX C++ interoperability harness
// (qf-initiator and qf-executor). Plain C++14 + QuickFIX 1.15.1 (Debian
// libquickfix-dev). QuickFIX 1.15.1 headers use dynamic exception
// specifications, so this must be compiled as C++14, not C++17.
#pragma once

#include <quickfix/Log.h>
#include <quickfix/FileLog.h>
#include <quickfix/SessionID.h>

#include <unistd.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace qfh {

// ---------------------------------------------------------------------------
// Output: every machine-readable line goes through here (one lock, one
// flush per line, so lines from different threads never interleave).
// ---------------------------------------------------------------------------
inline std::mutex& outMutex() {
  static std::mutex m;
  return m;
}

inline void emit(const std::string& line) {
  std::lock_guard<std::mutex> l(outMutex());
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Makes a value safe for a space-separated key=value line: SOH becomes '|',
// spaces and newlines become '_'.
inline std::string clean(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    if (c == '\001') o.push_back('|');
    else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') o.push_back('_');
    else o.push_back(c);
  }
  return o.empty() ? std::string("-") : o;
}

// For free text at the end of a line: only SOH and line breaks are replaced.
inline std::string cleanText(const std::string& s) {
  std::string o;
  for (char c : s) o.push_back(c == '\001' ? '|' : (c == '\n' || c == '\r') ? ' ' : c);
  return o;
}

inline int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline bool fileExists(const std::string& p) {
  struct stat st;
  return !p.empty() && ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

inline void mkdirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i < path.size(); ++i) {
    cur.push_back(path[i]);
    if (path[i] == '/' || i + 1 == path.size()) ::mkdir(cur.c_str(), 0755);
  }
}

inline std::string exeDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  std::string p(buf);
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? std::string(".") : p.substr(0, slash);
}

#ifndef QFH_SOURCE_DIR
#define QFH_SOURCE_DIR "."
#endif

// The FIX44.xml data dictionary. Debian's libquickfix-dev 1.15.1 does not
// ship the spec files, so a copy of QuickFIX 1.15.1's spec/FIX44.xml is kept
// in tests/quickfix/spec/ and build.sh copies it next to the binaries.
// Order: --dict, $QF_DICT, /usr/share/quickfix/FIX44.xml, <exe dir>/FIX44.xml,
// <source dir>/spec/FIX44.xml.
inline std::string findDictionary(const std::string& explicitPath) {
  if (!explicitPath.empty()) return explicitPath;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("QF_DICT")) candidates.push_back(env);
  candidates.push_back("/usr/share/quickfix/FIX44.xml");
  candidates.push_back(exeDir() + "/FIX44.xml");
  candidates.push_back(std::string(QFH_SOURCE_DIR) + "/spec/FIX44.xml");
  for (const auto& c : candidates)
    if (fileExists(c)) return c;
  return "";
}

// ---------------------------------------------------------------------------
// Log: optionally tees into QuickFIX's FileLog and reports session events as
// `EVENT session=.. text=..` lines. Events that mean QuickFIX refused or could
// not process what the counterparty sent (garbled message, sequence number
// too low, logon problems, timeouts) are counted as problems.
// ---------------------------------------------------------------------------
struct EventSink {
  virtual ~EventSink() {}
  virtual void onProblemEvent(const std::string& session, const std::string& text) = 0;
};

inline bool isProblemEvent(const std::string& t) {
  static const char* bad[] = {"Invalid message",
                              "is missing",
                              "has wrong format",
                              "Expected BodyLength",
                              "Expected CheckSum",
                              "out of order",
                              "MsgSeqNum too low",
                              "Logon message is not valid",
                              "Required field missing from logon",
                              "Timed out waiting",
                              "before sending request",
                              "outside of valid logon time",
                              "Logon state is not valid",
                              "Session not found for incoming message",
                              "Incorrect BeginString"};
  for (const char* b : bad)
    if (t.find(b) != std::string::npos) return true;
  return false;
}

class TeeLog : public FIX::Log {
 public:
  TeeLog(FIX::Log* inner, std::string session, bool printEvents, EventSink* sink)
      : m_inner(inner), m_session(std::move(session)), m_print(printEvents), m_sink(sink) {}
  ~TeeLog() override {}
  void clear() override {
    if (m_inner) m_inner->clear();
  }
  void backup() override {
    if (m_inner) m_inner->backup();
  }
  void onIncoming(const std::string& s) override {
    if (m_inner) m_inner->onIncoming(s);
  }
  void onOutgoing(const std::string& s) override {
    if (m_inner) m_inner->onOutgoing(s);
  }
  void onEvent(const std::string& s) override {
    if (m_inner) m_inner->onEvent(s);
    if (m_print) emit("EVENT session=" + m_session + " text=" + clean(s));
    if (m_sink && isProblemEvent(s)) m_sink->onProblemEvent(m_session, s);
  }
  FIX::Log* inner() { return m_inner; }

 private:
  FIX::Log* m_inner;
  std::string m_session;
  bool m_print;
  EventSink* m_sink;
};

class TeeLogFactory : public FIX::LogFactory {
 public:
  // fileLogPath empty: no file log.
  // labelByTarget: name sessions by TargetCompID (acceptor side) instead of
  // SenderCompID (initiator side).
  TeeLogFactory(const std::string& fileLogPath, bool printEvents, EventSink* sink,
                bool labelByTarget = false)
      : m_print(printEvents), m_sink(sink), m_byTarget(labelByTarget) {
    if (!fileLogPath.empty()) m_file.reset(new FIX::FileLogFactory(fileLogPath));
  }
  FIX::Log* create() override {
    return new TeeLog(m_file ? m_file->create() : nullptr, "GLOBAL", m_print, m_sink);
  }
  FIX::Log* create(const FIX::SessionID& id) override {
    const std::string label =
        m_byTarget ? id.getTargetCompID().getValue() : id.getSenderCompID().getValue();
    return new TeeLog(m_file ? m_file->create(id) : nullptr, label, m_print, m_sink);
  }
  void destroy(FIX::Log* log) override {
    TeeLog* t = dynamic_cast<TeeLog*>(log);
    if (t && t->inner() && m_file) m_file->destroy(t->inner());
    delete log;
  }

 private:
  std::unique_ptr<FIX::FileLogFactory> m_file;
  bool m_print;
  EventSink* m_sink;
  bool m_byTarget;
};

}  // namespace qfh
