// qf-initiator: a QuickFIX C++ (1.15.1) FIX 4.4 initiator that runs a
// scripted scenario against an acceptor (the venue, or qf-executor) and
// checks what comes back. QuickFIX validates every incoming message against
// FIX44.xml (UseDataDictionary=Y), so anything the acceptor sends that
// QuickFIX refuses shows up as a REJECT (dir=out) or PROBLEM line.
//
// Scenarios:
//   resend     (default) two sessions CLIENT1/CLIENT2: resting buys, crossing
//              sells, CLIENT1 logs out, more crossing sells, CLIENT1 logs on
//              again and must recover the missed fills through a
//              ResendRequest (PossDupFlag=Y).
//   pingpong   one session, one order at a time, round trip to the first
//              ExecutionReport; median/p99 in microseconds.
//   pipelined  one session, all orders as fast as possible; orders/s until
//              every order has its first ExecutionReport.
//
// Output is one machine-readable line per event on stdout (see README.md),
// ending with `RESULT ok` (exit 0) or `RESULT fail <why>` (exit 1).
// Usage errors exit 2.

#include "common.h"

#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>
#include <quickfix/fix44/NewOrderSingle.h>

#include <ftw.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

using qfh::emit;
using qfh::clean;
using qfh::nowNs;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string scenario = "resend";
  std::string symbol = "UST-10Y";
  std::string price = "100";
  std::string qty = "1";
  int orders = -1;  // scenario default: resend 5, pingpong 2000, pipelined 20000
  int timeoutSecs = 20;
  std::string dir = "./qf-initiator-data";
  std::string password;
  bool havePassword = false;
  std::string username;  // default: SenderCompID
  std::string dict;
  std::string target = "VENUE";
  std::string client1 = "CLIENT1";
  std::string client2 = "CLIENT2";
  std::string session = "CLIENT1";  // pingpong / pipelined
  std::string side = "buy";         // pingpong / pipelined: buy | sell | alternate
  int warmup = 50;                  // pingpong: orders before measuring
  int window = 0;                   // pipelined: max orders without an ExecutionReport (0 = no limit)
  std::string store = "file";       // file | memory
  std::string log = "file";         // file | none
  bool events = true;               // print EVENT lines
  bool verbose = false;             // ER lines in pingpong/pipelined
  bool fresh = false;               // wipe <dir>/store and <dir>/log first
  int heartbeat = 30;
  int settleMs = 200;  // resend: pause after CLIENT2's last fill before CLIENT1 logs on
  int lingerMs = 500;  // resend: keep listening after the last expected fill
};

void usage() {
  std::cerr <<
      "usage: qf-initiator --port PORT [options]\n"
      "  --host H              acceptor address (default 127.0.0.1)\n"
      "  --port P              acceptor port (required)\n"
      "  --scenario S          resend (default) | pingpong | pipelined\n"
      "  --symbol SYM          Symbol(55) (default UST-10Y)\n"
      "  --price PX            Price(44) (default 100)\n"
      "  --qty Q               OrderQty(38) per order (default 1)\n"
      "  --orders N            orders (default: resend 5, pingpong 2000, pipelined 20000)\n"
      "  --timeout-secs T      bound for the whole scenario (default 20)\n"
      "  --dir DIR             store/ and log/ go here (default ./qf-initiator-data)\n"
      "  --fresh               delete DIR/store and DIR/log first (sequence numbers restart at 1)\n"
      "  --password P          add Username(553)/Password(554) to Logon\n"
      "  --username U          Username(553) with --password (default: SenderCompID)\n"
      "  --dict PATH           FIX44.xml (default: $QF_DICT, /usr/share/quickfix, next to binary)\n"
      "  --target ID           TargetCompID (default VENUE)\n"
      "  --client1 ID --client2 ID   SenderCompIDs for resend (default CLIENT1, CLIENT2)\n"
      "  --session ID          SenderCompID for pingpong/pipelined (default CLIENT1)\n"
      "  --side S              pingpong/pipelined: buy (default) | sell | alternate\n"
      "  --warmup N            pingpong: unmeasured orders first (default 50)\n"
      "  --window W            pipelined: at most W orders awaiting their first ExecutionReport;\n"
      "                        the first W are sent at once, then one more per ExecutionReport,\n"
      "                        from QuickFIX's thread (default 0: all N at once from the main thread)\n"
      "  --store file|memory   message store (default file)\n"
      "  --log file|none       QuickFIX FileLog under DIR/log (default file)\n"
      "  --no-events           do not print EVENT lines\n"
      "  --verbose             print ER lines in pingpong/pipelined too\n"
      "  --heartbeat S         HeartBtInt (default 30)\n"
      "  --settle-ms MS        resend: pause before CLIENT1 logs on again (default 200)\n"
      "  --linger-ms MS        resend: keep listening after the last fill (default 500)\n";
}

bool isNumber(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end && *end == 0;
}

int parseArgs(int argc, char** argv, Options& o) {
  auto need = [&](int& i) -> std::string {
    if (i + 1 >= argc) {
      std::cerr << "missing value for " << argv[i] << "\n";
      std::exit(2);
    }
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--host") o.host = need(i);
    else if (a == "--port") o.port = std::atoi(need(i).c_str());
    else if (a == "--scenario") o.scenario = need(i);
    else if (a == "--symbol") o.symbol = need(i);
    else if (a == "--price") o.price = need(i);
    else if (a == "--qty") o.qty = need(i);
    else if (a == "--orders") o.orders = std::atoi(need(i).c_str());
    else if (a == "--timeout-secs") o.timeoutSecs = std::atoi(need(i).c_str());
    else if (a == "--dir") o.dir = need(i);
    else if (a == "--fresh") o.fresh = true;
    else if (a == "--password") { o.password = need(i); o.havePassword = true; }
    else if (a == "--username") o.username = need(i);
    else if (a == "--dict") o.dict = need(i);
    else if (a == "--target") o.target = need(i);
    else if (a == "--client1") o.client1 = need(i);
    else if (a == "--client2") o.client2 = need(i);
    else if (a == "--session") o.session = need(i);
    else if (a == "--side") o.side = need(i);
    else if (a == "--warmup") o.warmup = std::atoi(need(i).c_str());
    else if (a == "--window") o.window = std::atoi(need(i).c_str());
    else if (a == "--store") o.store = need(i);
    else if (a == "--log") o.log = need(i);
    else if (a == "--no-events") o.events = false;
    else if (a == "--verbose") o.verbose = true;
    else if (a == "--heartbeat") o.heartbeat = std::atoi(need(i).c_str());
    else if (a == "--settle-ms") o.settleMs = std::atoi(need(i).c_str());
    else if (a == "--linger-ms") o.lingerMs = std::atoi(need(i).c_str());
    else if (a == "-h" || a == "--help") { usage(); std::exit(0); }
    else { std::cerr << "unknown argument " << a << "\n"; usage(); return 2; }
  }
  if (o.port <= 0) { std::cerr << "--port is required\n"; usage(); return 2; }
  if (o.scenario != "resend" && o.scenario != "pingpong" && o.scenario != "pipelined") {
    std::cerr << "unknown scenario " << o.scenario << "\n"; return 2;
  }
  if (o.orders < 0) o.orders = o.scenario == "resend" ? 5 : o.scenario == "pingpong" ? 2000 : 20000;
  if (o.scenario == "resend" && o.orders < 2) { std::cerr << "resend needs --orders >= 2\n"; return 2; }
  if (o.orders < 1) { std::cerr << "--orders must be >= 1\n"; return 2; }
  if (!isNumber(o.price) || !isNumber(o.qty) || std::strtod(o.qty.c_str(), nullptr) <= 0) {
    std::cerr << "--price and --qty must be numbers (qty > 0)\n"; return 2;
  }
  if (o.side != "buy" && o.side != "sell" && o.side != "alternate") { std::cerr << "bad --side\n"; return 2; }
  if (o.store != "file" && o.store != "memory") { std::cerr << "bad --store\n"; return 2; }
  if (o.log != "file" && o.log != "none") { std::cerr << "bad --log\n"; return 2; }
  if (o.timeoutSecs <= 0) o.timeoutSecs = 1;
  return 0;
}

int rmEntry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }
void rmTree(const std::string& p) { ::nftw(p.c_str(), rmEntry, 16, FTW_DEPTH | FTW_PHYS); }

std::string fieldOr(const FIX::FieldMap& m, int tag) {
  return m.isSetField(tag) ? m.getField(tag) : std::string("-");
}

struct OrderInfo {
  std::string session;
  char side = '1';
  double qty = 0;
  double filled = 0;
  bool acked = false;
  int index = -1;
};

struct SessState {
  bool loggedOn = false;
  int logons = 0;
  int logouts = 0;
  std::string lastLogonSeq = "-";
  std::set<std::string> execIds;
  int ers = 0;
  int fills = 0;
  int possdupFills = 0;
  double filledQty = 0;
  int resendRequestsSent = 0;
  std::string lastLogoutText;  // Text(58) of the acceptor's last Logout
  bool sentLogout = false;     // we sent a Logout on the current connection
};

// ---------------------------------------------------------------------------
class Harness : public FIX::Application, public qfh::EventSink {
 public:
  explicit Harness(const Options& o) : m_opt(o) {}

  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, SessState> sess;
  std::map<std::string, OrderInfo> orders;  // by ClOrdID
  std::vector<std::string> failures;
  int rejects = 0, duplicates = 0, problems = 0, strays = 0, unexpected = 0, orderRejects = 0;
  bool printErs = true;
  // pingpong / pipelined timings, indexed by OrderInfo::index
  std::vector<int64_t> sendNs, ackNs;
  int acked = 0;
  // pipelined with a window: each first ExecutionReport for an order sends
  // the next order from QuickFIX's own thread (no cross-thread contention).
  std::function<void(int)> refill;
  std::atomic<int> nextToSend{0};
  int refillLimit = 0;

  void fail(const std::string& why) {  // with mu held
    failures.push_back(why);
    cv.notify_all();
  }

  // --- Application -------------------------------------------------------
  void onCreate(const FIX::SessionID& id) override {
    std::lock_guard<std::mutex> l(mu);
    sess[name(id)];
  }
  void onLogon(const FIX::SessionID& id) override {
    std::lock_guard<std::mutex> l(mu);
    SessState& s = sess[name(id)];
    s.loggedOn = true;
    s.sentLogout = false;
    s.logons++;
    FIX::Session* session = FIX::Session::lookupSession(id);
    emit("LOGON session=" + name(id) + " logon_seq=" + s.lastLogonSeq +
         " next_sender_seq=" + std::to_string(session ? session->getExpectedSenderNum() : 0) +
         " next_target_seq=" + std::to_string(session ? session->getExpectedTargetNum() : 0));
    cv.notify_all();
  }
  void onLogout(const FIX::SessionID& id) override {
    std::lock_guard<std::mutex> l(mu);
    SessState& s = sess[name(id)];
    s.loggedOn = false;
    s.sentLogout = false;
    s.logouts++;
    emit("LOGOUT session=" + name(id));
    cv.notify_all();
  }

  void toAdmin(FIX::Message& msg, const FIX::SessionID& id) override {
    try {
      const std::string type = msg.getHeader().getField(FIX::FIELD::MsgType);
      if (type == "A") {
        if (m_opt.havePassword) {
          msg.setField(553, m_opt.username.empty() ? id.getSenderCompID().getValue() : m_opt.username);
          msg.setField(554, m_opt.password);
        }
      } else if (type == "2") {
        std::lock_guard<std::mutex> l(mu);
        sess[name(id)].resendRequestsSent++;
        emit("RESEND session=" + name(id) + " dir=out begin=" + fieldOr(msg, 7) + " end=" + fieldOr(msg, 16));
      } else if (type == "3") {
        // QuickFIX generated a session-level Reject: it refused something the
        // acceptor sent (dictionary validation, bad PossDup, ...).
        std::lock_guard<std::mutex> l(mu);
        rejects++;
        emit("REJECT session=" + name(id) + " dir=out msg_type=3 ref_seq=" + fieldOr(msg, 45) +
             " ref_tag=" + fieldOr(msg, 371) + " ref_msg_type=" + fieldOr(msg, 372) +
             " reason=" + fieldOr(msg, 373) + " text=" + clean(fieldOr(msg, 58)));
        fail(name(id) + " rejected a message from the acceptor (ref_seq " + fieldOr(msg, 45) +
             ", reason " + fieldOr(msg, 373) + ", tag " + fieldOr(msg, 371) + ")");
      } else if (type == "5") {
        {
          std::lock_guard<std::mutex> l(mu);
          sess[name(id)].sentLogout = true;
        }
        emit("LOGOUT_MSG session=" + name(id) + " dir=out text=" + clean(fieldOr(msg, 58)));
      } else if (type == "4") {
        emit("SEQRESET session=" + name(id) + " dir=out seq=" + fieldOr(msg.getHeader(), 34) +
             " new_seq_no=" + fieldOr(msg, 36) + " gap_fill=" + fieldOr(msg, 123));
      }
    } catch (std::exception& e) {
      emit(std::string("PROBLEM session=") + name(id) + " text=toAdmin:" + clean(e.what()));
    }
  }

  void toApp(FIX::Message& msg, const FIX::SessionID& id) throw(FIX::DoNotSend) override {
    try {
      const std::string type = msg.getHeader().getField(FIX::FIELD::MsgType);
      if (type == "j") {
        std::lock_guard<std::mutex> l(mu);
        rejects++;
        emit("REJECT session=" + name(id) + " dir=out msg_type=j ref_seq=" + fieldOr(msg, 45) +
             " ref_msg_type=" + fieldOr(msg, 372) + " reason=" + fieldOr(msg, 380) +
             " ref_tag=" + fieldOr(msg, 379) + " text=" + clean(fieldOr(msg, 58)));
        fail(name(id) + " sent BusinessMessageReject for a message from the acceptor (ref_seq " +
             fieldOr(msg, 45) + ")");
      }
    } catch (std::exception& e) {
      emit(std::string("PROBLEM session=") + name(id) + " text=toApp:" + clean(e.what()));
    }
  }

  void fromAdmin(const FIX::Message& msg, const FIX::SessionID& id) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
    try {
      const FIX::Header& h = msg.getHeader();
      const std::string type = h.getField(FIX::FIELD::MsgType);
      if (type == "A") {
        std::lock_guard<std::mutex> l(mu);
        sess[name(id)].lastLogonSeq = fieldOr(h, 34);
      } else if (type == "3") {
        std::lock_guard<std::mutex> l(mu);
        rejects++;
        emit("REJECT session=" + name(id) + " dir=in msg_type=3 seq=" + fieldOr(h, 34) +
             " ref_seq=" + fieldOr(msg, 45) + " ref_tag=" + fieldOr(msg, 371) +
             " ref_msg_type=" + fieldOr(msg, 372) + " reason=" + fieldOr(msg, 373) +
             " text=" + clean(fieldOr(msg, 58)));
        fail(name(id) + " received Reject (ref_seq " + fieldOr(msg, 45) + ": " + fieldOr(msg, 58) + ")");
      } else if (type == "5") {
        std::lock_guard<std::mutex> l(mu);
        SessState& st = sess[name(id)];
        if (msg.isSetField(58)) st.lastLogoutText = msg.getField(58);
        emit("LOGOUT_MSG session=" + name(id) + " dir=in seq=" + fieldOr(h, 34) +
             " text=" + clean(fieldOr(msg, 58)));
        if (!st.sentLogout) {
          // The acceptor ended the session on its own (e.g. "MsgSeqNum too
          // low", a rejected Logon): never part of a scenario.
          problems++;
          emit("PROBLEM session=" + name(id) + " text=acceptor_sent_unsolicited_Logout:_" +
               clean(fieldOr(msg, 58)));
          fail(name(id) + ": acceptor sent an unsolicited Logout: " + fieldOr(msg, 58));
        }
      } else if (type == "4") {
        emit("SEQRESET session=" + name(id) + " dir=in seq=" + fieldOr(h, 34) +
             " possdup=" + fieldOr(h, 43) + " new_seq_no=" + fieldOr(msg, 36) +
             " gap_fill=" + fieldOr(msg, 123));
      } else if (type == "2") {
        emit("RESEND session=" + name(id) + " dir=in begin=" + fieldOr(msg, 7) + " end=" + fieldOr(msg, 16));
      }
    } catch (std::exception& e) {
      emit(std::string("PROBLEM session=") + name(id) + " text=fromAdmin:" + clean(e.what()));
    }
  }

  void fromApp(const FIX::Message& msg, const FIX::SessionID& id) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    const int64_t t = nowNs();
    bool newAck = false;
    try {
      const FIX::Header& h = msg.getHeader();
      const std::string type = h.getField(FIX::FIELD::MsgType);
      std::unique_lock<std::mutex> l(mu);
      if (type == "8") {
        newAck = onExecutionReport(msg, name(id), t);
        l.unlock();
        if (newAck && refill) {
          const int i = nextToSend.fetch_add(1);
          if (i < refillLimit) refill(i);
        }
      } else if (type == "j") {
        rejects++;
        emit("REJECT session=" + name(id) + " dir=in msg_type=j seq=" + fieldOr(h, 34) +
             " ref_seq=" + fieldOr(msg, 45) + " ref_msg_type=" + fieldOr(msg, 372) +
             " reason=" + fieldOr(msg, 380) + " text=" + clean(fieldOr(msg, 58)));
        fail(name(id) + " received BusinessMessageReject (ref_seq " + fieldOr(msg, 45) + ": " +
             fieldOr(msg, 58) + ")");
      } else {
        unexpected++;
        emit("UNEXPECTED session=" + name(id) + " msg_type=" + clean(type) + " seq=" + fieldOr(h, 34) +
             " text=" + clean(fieldOr(msg, 58)));
        fail(name(id) + " received unexpected message type " + type);
      }
    } catch (std::exception& e) {
      std::lock_guard<std::mutex> l(mu);
      problems++;
      emit(std::string("PROBLEM session=") + name(id) + " text=fromApp:" + clean(e.what()));
      fail(name(id) + " could not process an application message: " + e.what());
    }
  }

  // --- EventSink ---------------------------------------------------------
  void onProblemEvent(const std::string& session, const std::string& text) override {
    std::lock_guard<std::mutex> l(mu);
    problems++;
    emit("PROBLEM session=" + session + " text=" + clean(text));
    fail(session + ": " + text);
  }

  static std::string name(const FIX::SessionID& id) { return id.getSenderCompID().getValue(); }

 private:
  const Options& m_opt;

  // Returns true when this is the first ExecutionReport for one of our orders.
  bool onExecutionReport(const FIX::Message& msg, const std::string& s, int64_t t) {
    const FIX::Header& h = msg.getHeader();
    SessState& st = sess[s];
    const std::string seq = fieldOr(h, 34);
    const std::string possdup = h.isSetField(43) ? h.getField(43) : "N";
    const std::string execId = fieldOr(msg, 17);
    const std::string clOrdId = fieldOr(msg, 11);
    const std::string execType = fieldOr(msg, 150);
    const std::string ordStatus = fieldOr(msg, 39);
    const std::string lastQty = fieldOr(msg, 32);
    const std::string lastPx = fieldOr(msg, 31);
    st.ers++;
    if (printErs) {
      emit("ER session=" + s + " seq=" + seq + " possdup=" + possdup + " exec_id=" + clean(execId) +
           " cl_ord_id=" + clean(clOrdId) + " order_id=" + clean(fieldOr(msg, 37)) +
           " exec_type=" + execType + " ord_status=" + ordStatus + " side=" + fieldOr(msg, 54) +
           " symbol=" + clean(fieldOr(msg, 55)) + " last_qty=" + lastQty + " last_px=" + lastPx +
           " cum_qty=" + fieldOr(msg, 14) + " leaves_qty=" + fieldOr(msg, 151) +
           " avg_px=" + fieldOr(msg, 6));
    }
    if (!st.execIds.insert(execId).second) {
      duplicates++;
      emit("DUPLICATE session=" + s + " seq=" + seq + " possdup=" + possdup + " exec_id=" +
           clean(execId) + " cl_ord_id=" + clean(clOrdId) + " exec_type=" + execType);
      fail(s + " received ExecID " + execId + " twice (second at seq " + seq + ", possdup=" + possdup + ")");
      return false;
    }
    auto it = orders.find(clOrdId);
    if (it == orders.end() || it->second.session != s) {
      strays++;
      emit("STRAY session=" + s + " seq=" + seq + " exec_id=" + clean(execId) + " cl_ord_id=" +
           clean(clOrdId) + " exec_type=" + execType);
      return false;
    }
    OrderInfo& o = it->second;
    bool first = false;
    if (!o.acked) {
      first = true;
      o.acked = true;
      if (o.index >= 0 && o.index < (int)ackNs.size()) ackNs[o.index] = t;
      acked++;
    }
    if (execType == "8") {
      orderRejects++;
      rejects++;
      emit("REJECT session=" + s + " dir=in msg_type=8 cl_ord_id=" + clean(clOrdId) +
           " ord_rej_reason=" + fieldOr(msg, 103) + " text=" + clean(fieldOr(msg, 58)));
      fail(s + " order " + clOrdId + " rejected: " + fieldOr(msg, 58));
    } else if (execType == "F") {
      const double q = std::strtod(lastQty.c_str(), nullptr);
      st.fills++;
      st.filledQty += q;
      o.filled += q;
      if (possdup == "Y") st.possdupFills++;
    }
    cv.notify_all();
    return first;
  }
};

// ---------------------------------------------------------------------------
std::string makeSettings(const Options& o, const std::string& dict, const std::vector<std::string>& senders) {
  std::ostringstream s;
  s << "[DEFAULT]\n"
    << "ConnectionType=initiator\n"
    << "BeginString=FIX.4.4\n"
    << "TargetCompID=" << o.target << "\n"
    << "SocketConnectHost=" << o.host << "\n"
    << "SocketConnectPort=" << o.port << "\n"
    << "SocketNodelay=Y\n"
    << "ReconnectInterval=1\n"
    << "StartTime=00:00:00\n"
    << "EndTime=00:00:00\n"
    << "HeartBtInt=" << o.heartbeat << "\n"
    << "UseDataDictionary=Y\n"
    << "DataDictionary=" << dict << "\n"
    << "ValidateUserDefinedFields=N\n"
    << "CheckLatency=N\n"
    << "ResetOnLogon=N\n"
    << "ResetOnLogout=N\n"
    << "ResetOnDisconnect=N\n"
    << "PersistMessages=Y\n"
    << "LogonTimeout=10\n"
    << "LogoutTimeout=5\n"
    << "FileStorePath=" << o.dir << "/store\n"
    << "FileLogPath=" << o.dir << "/log\n";
  for (const auto& sender : senders) s << "\n[SESSION]\nSenderCompID=" << sender << "\n";
  return s.str();
}

std::string makeRunId() {
  // Unique per run even though the FileStore (and the venue) persist:
  // seconds since the epoch in base 36 plus the pid.
  long long secs = (long long)std::time(nullptr);
  const char* digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string b36;
  while (secs > 0) { b36.insert(b36.begin(), digits[secs % 36]); secs /= 36; }
  return "R" + b36 + "P" + std::to_string((long long)::getpid());
}

class Runner {
 public:
  Runner(const Options& o, Harness& h, const std::string& runId) : m_o(o), m_h(h), m_run(runId) {
    m_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeoutSecs);
  }

  FIX::SessionID sid(const std::string& sender) const { return FIX::SessionID("FIX.4.4", sender, m_o.target); }

  // Waits (bounded by the scenario deadline) for pred, evaluated with mu held.
  // Returns false on timeout or when a failure has been recorded.
  bool waitFor(const std::string& what, const std::function<bool()>& pred, bool stopOnFailure = true) {
    std::unique_lock<std::mutex> l(m_h.mu);
    while (!pred()) {
      if (stopOnFailure && !m_h.failures.empty()) return false;
      if (m_h.cv.wait_until(l, m_deadline) == std::cv_status::timeout && !pred()) {
        std::string why = "timed out waiting for " + what;
        for (const auto& kv : m_h.sess)
          if (!kv.second.lastLogoutText.empty())
            why += " (" + kv.first + ": acceptor's last Logout said '" + kv.second.lastLogoutText + "')";
        m_h.failures.push_back(why);
        return false;
      }
    }
    return true;
  }

  // Records and sends one NewOrderSingle; returns the ClOrdID.
  std::string sendOrder(const std::string& sender, char side, int index, const std::string& tag) {
    const std::string clOrdId = m_run + "-" + tag + std::to_string(index);
    FIX44::NewOrderSingle nos(FIX::ClOrdID(clOrdId), FIX::Side(side), FIX::TransactTime(),
                              FIX::OrdType(FIX::OrdType_LIMIT));
    nos.set(FIX::HandlInst('1'));
    nos.set(FIX::Symbol(m_o.symbol));
    nos.setField(FIX::FIELD::OrderQty, m_o.qty);
    nos.setField(FIX::FIELD::Price, m_o.price);
    nos.set(FIX::TimeInForce(FIX::TimeInForce_DAY));
    {
      std::lock_guard<std::mutex> l(m_h.mu);
      OrderInfo& oi = m_h.orders[clOrdId];
      oi.session = sender;
      oi.side = side;
      oi.qty = std::strtod(m_o.qty.c_str(), nullptr);
      oi.index = index;
      if (index >= 0 && index < (int)m_h.sendNs.size()) m_h.sendNs[index] = nowNs();
    }
    if (!FIX::Session::sendToTarget(nos, sid(sender))) {
      std::lock_guard<std::mutex> l(m_h.mu);
      m_h.fail("could not send order " + clOrdId + " on " + sender);
    }
    return clOrdId;
  }

  bool loggedOn(const std::string& s) { return m_h.sess[s].loggedOn; }

  void logoutAll(const std::vector<std::string>& senders) {
    for (const auto& s : senders) {
      FIX::Session* session = FIX::Session::lookupSession(sid(s));
      if (session) session->logout("scenario done");
    }
    // Bounded separately from the scenario deadline.
    std::unique_lock<std::mutex> l(m_h.mu);
    m_h.cv.wait_for(l, std::chrono::seconds(5), [&] {
      for (const auto& s : senders)
        if (m_h.sess[s].loggedOn) return false;
      return true;
    });
  }

  // ---- resend ----------------------------------------------------------
  void resend() {
    const std::string c1 = m_o.client1, c2 = m_o.client2;
    const int n = m_o.orders;
    const int k = n / 2;  // crossed while both are logged on; n - k while CLIENT1 is out
    const double q = std::strtod(m_o.qty.c_str(), nullptr);
    auto near = [](double a, double b) { return std::fabs(a - b) < 1e-9 * std::max(1.0, std::fabs(b)); };
    emit("PLAN scenario=resend run_id=" + m_run + " orders=" + std::to_string(n) + " crossed_online=" +
         std::to_string(k) + " crossed_offline=" + std::to_string(n - k) + " symbol=" + m_o.symbol +
         " price=" + m_o.price + " qty=" + m_o.qty);

    // a. both log on
    emit("STEP a logon");
    if (!waitFor("both sessions to log on", [&] { return loggedOn(c1) && loggedOn(c2); })) return;

    // b. CLIENT1 rests n buys; CLIENT2 crosses k of them
    emit("STEP b rest_and_cross");
    std::vector<std::string> buys;
    for (int i = 0; i < n; ++i) buys.push_back(sendOrder(c1, FIX::Side_BUY, i, "C1B"));
    if (!waitFor("ExecutionReports for CLIENT1's buy orders", [&] {
          for (const auto& b : buys)
            if (!m_h.orders[b].acked) return false;
          return true;
        }))
      return;
    {
      std::lock_guard<std::mutex> l(m_h.mu);
      for (const auto& b : buys)
        if (m_h.orders[b].filled > 0) {
          m_h.fail("CLIENT1 buy " + b + " traded before any crossing sell was sent (leftover liquidity on the venue?)");
          return;
        }
    }
    for (int i = 0; i < k; ++i) sendOrder(c2, FIX::Side_SELL, i, "C2S");
    if (!waitFor("fills for the first " + std::to_string(k) + " crossing sell(s)", [&] {
          return near(m_h.sess[c2].filledQty, k * q) && near(m_h.sess[c1].filledQty, k * q);
        }))
      return;

    // c. CLIENT1 logs out; CLIENT2 crosses the rest
    emit("STEP c client1_logout");
    FIX::Session* s1 = FIX::Session::lookupSession(sid(c1));
    s1->logout("resend scenario: going away");
    if (!waitFor("CLIENT1 to log out", [&] { return !loggedOn(c1); })) return;
    for (int i = k; i < n; ++i) sendOrder(c2, FIX::Side_SELL, i, "C2S");
    if (!waitFor("CLIENT2's fills while CLIENT1 is logged out",
                 [&] { return near(m_h.sess[c2].filledQty, n * q); }))
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(m_o.settleMs));

    // d. CLIENT1 logs on again: the acceptor's Logon is ahead, QuickFIX asks
    //    for a resend and gets the missed fills with PossDupFlag=Y.
    emit("STEP d client1_logon_again");
    int resendsBefore;
    {
      std::lock_guard<std::mutex> l(m_h.mu);
      resendsBefore = m_h.sess[c1].resendRequestsSent;
    }
    s1->logon();
    if (!waitFor("CLIENT1 to log on again", [&] { return loggedOn(c1); })) return;

    // e. every fill must arrive
    emit("STEP e await_fills");
    if (!waitFor("all of CLIENT1's fills", [&] { return near(m_h.sess[c1].filledQty, n * q); })) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(m_o.lingerMs));

    std::lock_guard<std::mutex> l(m_h.mu);
    SessState& a = m_h.sess[c1];
    SessState& b = m_h.sess[c2];
    emit("SUMMARY session=" + c1 + " ers=" + std::to_string(a.ers) + " fills=" + std::to_string(a.fills) +
         " possdup_fills=" + std::to_string(a.possdupFills) + " filled_qty=" + fmt(a.filledQty) +
         " expected_qty=" + fmt(n * q) + " resend_requests=" + std::to_string(a.resendRequestsSent) +
         " logons=" + std::to_string(a.logons));
    emit("SUMMARY session=" + c2 + " ers=" + std::to_string(b.ers) + " fills=" + std::to_string(b.fills) +
         " possdup_fills=" + std::to_string(b.possdupFills) + " filled_qty=" + fmt(b.filledQty) +
         " expected_qty=" + fmt(n * q));
    for (const auto& bId : buys)
      if (!near(m_h.orders[bId].filled, q)) m_h.fail("CLIENT1 order " + bId + " filled " + fmt(m_h.orders[bId].filled));
    if (a.resendRequestsSent <= resendsBefore)
      m_h.fail("CLIENT1 sent no ResendRequest after logging on again (acceptor's Logon MsgSeqNum was not ahead)");
    if (a.possdupFills < 1)
      m_h.fail("CLIENT1 received no fill with PossDupFlag=Y (missed fills were not resent)");
  }

  // ---- pingpong --------------------------------------------------------
  void pingpong() {
    const std::string s = m_o.session;
    const int n = m_o.orders, w = std::max(0, m_o.warmup);
    emit("PLAN scenario=pingpong run_id=" + m_run + " session=" + s + " orders=" + std::to_string(n) +
         " warmup=" + std::to_string(w));
    if (!waitFor("logon", [&] { return loggedOn(s); })) return;
    {
      std::lock_guard<std::mutex> l(m_h.mu);
      m_h.sendNs.assign(n + w, 0);
      m_h.ackNs.assign(n + w, 0);
    }
    for (int i = 0; i < n + w; ++i) {
      sendOrder(s, sideFor(i), i, "PP");
      if (!waitFor("ExecutionReport for order " + std::to_string(i), [&] { return m_h.acked >= i + 1; })) return;
    }
    std::vector<double> us;
    {
      std::lock_guard<std::mutex> l(m_h.mu);
      for (int i = w; i < n + w; ++i) us.push_back((m_h.ackNs[i] - m_h.sendNs[i]) / 1000.0);
    }
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (double x : us) sum += x;
    emit("PINGPONG orders=" + std::to_string(n) + " median_us=" + fmt1(pct(us, 0.5)) + " p90_us=" +
         fmt1(pct(us, 0.9)) + " p99_us=" + fmt1(pct(us, 0.99)) + " mean_us=" + fmt1(sum / us.size()) +
         " min_us=" + fmt1(us.front()) + " max_us=" + fmt1(us.back()));
  }

  // ---- pipelined -------------------------------------------------------
  void pipelined() {
    const std::string s = m_o.session;
    const int n = m_o.orders;
    emit("PLAN scenario=pipelined run_id=" + m_run + " session=" + s + " orders=" + std::to_string(n) +
         " window=" + std::to_string(m_o.window));
    if (!waitFor("logon", [&] { return loggedOn(s); })) return;
    {
      std::lock_guard<std::mutex> l(m_h.mu);
      m_h.sendNs.assign(n, 0);
      m_h.ackNs.assign(n, 0);
    }
    const int first = m_o.window > 0 ? std::min(n, m_o.window) : n;
    if (first < n) {
      m_h.refillLimit = n;
      m_h.nextToSend = first;
      m_h.refill = [this, s](int i) { sendOrder(s, sideFor(i), i, "PL"); };
    }
    const int64_t t0 = nowNs();
    for (int i = 0; i < first; ++i) sendOrder(s, sideFor(i), i, "PL");
    const int64_t tSent = nowNs();
    if (!waitFor("ExecutionReports for all orders", [&] { return m_h.acked >= n; })) return;
    int64_t last = 0;
    std::vector<double> us;
    {
      std::lock_guard<std::mutex> l(m_h.mu);
      for (int i = 0; i < n; ++i) {
        last = std::max(last, m_h.ackNs[i]);
        us.push_back((m_h.ackNs[i] - m_h.sendNs[i]) / 1000.0);
      }
    }
    std::sort(us.begin(), us.end());
    const double secs = (last - t0) / 1e9;
    emit("PIPELINED orders=" + std::to_string(n) + " elapsed_ms=" + fmt1(secs * 1000) +
         " orders_per_sec=" + std::to_string((long long)std::llround(n / secs)) +
         " initial_send_ms=" + fmt1((tSent - t0) / 1e6) + " ack_latency_median_us=" + fmt1(pct(us, 0.5)) +
         " ack_latency_max_us=" + fmt1(us.back()));
  }

 private:
  const Options& m_o;
  Harness& m_h;
  std::string m_run;
  std::chrono::steady_clock::time_point m_deadline;

  char sideFor(int i) const {
    if (m_o.side == "sell") return FIX::Side_SELL;
    if (m_o.side == "alternate") return (i % 2) ? FIX::Side_SELL : FIX::Side_BUY;
    return FIX::Side_BUY;
  }
  static double pct(const std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    size_t idx = (size_t)std::ceil(p * v.size()) - 1;
    if (idx >= v.size()) idx = v.size() - 1;
    return v[idx];
  }
  static std::string fmt(double x) {
    std::ostringstream s;
    s.precision(12);
    s << x;
    return s.str();
  }
  static std::string fmt1(double x) {
    char b[64];
    std::snprintf(b, sizeof b, "%.1f", x);
    return b;
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (int rc = parseArgs(argc, argv, o)) return rc;
  const std::string dict = qfh::findDictionary(o.dict);
  if (dict.empty() || !qfh::fileExists(dict)) {
    std::cerr << "FIX44.xml not found (use --dict or QF_DICT)\n";
    emit("RESULT fail FIX44.xml data dictionary not found");
    return 1;
  }
  if (o.fresh) {
    rmTree(o.dir + "/store");
    rmTree(o.dir + "/log");
  }
  qfh::mkdirs(o.dir + "/store");
  if (o.log == "file") qfh::mkdirs(o.dir + "/log");

  std::vector<std::string> senders;
  if (o.scenario == "resend") senders = {o.client1, o.client2};
  else senders = {o.session};

  Harness h(o);
  h.printErs = o.scenario == "resend" || o.verbose;
  const std::string runId = makeRunId();
  emit("START scenario=" + o.scenario + " host=" + o.host + " port=" + std::to_string(o.port) +
       " dict=" + dict + " dir=" + o.dir);

  std::unique_ptr<FIX::MessageStoreFactory> store;
  std::unique_ptr<qfh::TeeLogFactory> logs;
  std::unique_ptr<FIX::SocketInitiator> initiator;
  std::vector<std::string> failures;
  try {
    std::istringstream cfg(makeSettings(o, dict, senders));
    FIX::SessionSettings settings(cfg);
    if (o.store == "file") store.reset(new FIX::FileStoreFactory(settings));
    else store.reset(new FIX::MemoryStoreFactory());
    logs.reset(new qfh::TeeLogFactory(o.log == "file" ? o.dir + "/log" : "", o.events, &h));
    initiator.reset(new FIX::SocketInitiator(h, *store, settings, *logs));
    initiator->start();

    Runner r(o, h, runId);
    if (o.scenario == "resend") r.resend();
    else if (o.scenario == "pingpong") r.pingpong();
    else r.pipelined();

    r.logoutAll(senders);
    initiator->stop();
  } catch (std::exception& e) {
    std::lock_guard<std::mutex> l(h.mu);
    h.failures.push_back(std::string("exception: ") + e.what());
  }

  std::lock_guard<std::mutex> l(h.mu);
  // Checks that hold in every scenario.
  if (h.rejects && h.failures.empty()) h.failures.push_back("Reject seen");
  if (h.duplicates && h.failures.empty()) h.failures.push_back("duplicate ExecID seen");
  if (h.failures.empty()) {
    emit("RESULT ok");
    return 0;
  }
  std::string why = h.failures.front();
  if (h.failures.size() > 1) why += " (+" + std::to_string(h.failures.size() - 1) + " more)";
  emit("RESULT fail " + qfh::cleanText(why));
  for (size_t i = 1; i < h.failures.size() && i < 20; ++i) emit("FAILURE " + qfh::cleanText(h.failures[i]));
  return 1;
}
