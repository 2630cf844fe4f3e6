// qf-executor: a QuickFIX C++ (1.15.1) FIX 4.4 acceptor used to validate
// qf-initiator and as the QuickFIX baseline for benchmarks.
//
// Sessions VENUE <-> CLIENT1, VENUE <-> CLIENT2 (configurable). Each
// NewOrderSingle is answered according to --mode:
//   ack    (default, the benchmark baseline) one ExecutionReport New
//          (150=0, 39=0) per order, nothing else;
//   fill   ExecutionReport New, then a full fill (150=F, 39=2) at the price;
//   match  a small price-time limit order book per Symbol: New, then fills
//          for both sides whenever a buy and a sell cross (trade at the
//          resting order's price). ExecutionReports for a session that is
//          logged out are stored by QuickFIX and recovered through the
//          client's ResendRequest, so `qf-initiator --scenario resend` runs
//          end to end against this mode;
//   bad    like ack, but the ExecutionReport carries ExecTransType(20), a
//          FIX 4.2 field that FIX 4.4 removed: a negative control showing
//          that qf-initiator reports what QuickFIX refuses (REJECT dir=out).
//
// Prints `LISTENING port=.. mode=..` once it accepts connections, then
// LOGON/LOGOUT/REJECT/PROBLEM lines; runs until SIGINT/SIGTERM (or
// --duration-secs) and prints `STATS ...` on exit.

#include "common.h"

#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketAcceptor.h>
#include <quickfix/ThreadedSocketAcceptor.h>
#include <quickfix/fix44/ExecutionReport.h>
#include <quickfix/fix44/NewOrderSingle.h>

#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>

using qfh::clean;
using qfh::emit;

namespace {

struct Options {
  int port = 0;
  std::string mode = "ack";
  std::string dir = "./qf-executor-data";
  std::string venue = "VENUE";
  std::vector<std::string> clients = {"CLIENT1", "CLIENT2"};
  std::string password;
  bool havePassword = false;
  std::string dict;
  std::string store = "file";
  std::string log = "file";
  bool events = false;
  bool threaded = false;
  bool fresh = false;
  int durationSecs = 0;
};

void usage() {
  std::cerr <<
      "usage: qf-executor --port PORT [options]\n"
      "  --port P              listen on 0.0.0.0:P (required)\n"
      "  --mode M              ack (default) | fill | match | bad\n"
      "  --dir DIR             store/ and log/ go here (default ./qf-executor-data)\n"
      "  --fresh               delete DIR/store and DIR/log first\n"
      "  --venue ID            SenderCompID (default VENUE)\n"
      "  --clients A,B         TargetCompIDs (default CLIENT1,CLIENT2)\n"
      "  --password P          require Password(554)=P on Logon\n"
      "  --dict PATH           FIX44.xml (default: $QF_DICT, /usr/share/quickfix, next to binary)\n"
      "  --store file|memory   message store (default file)\n"
      "  --log file|none       QuickFIX FileLog under DIR/log (default file)\n"
      "  --events              print EVENT lines\n"
      "  --threaded            ThreadedSocketAcceptor (a thread per connection)\n"
      "  --duration-secs S     exit after S seconds (default: until SIGINT/SIGTERM)\n";
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
    if (a == "--port") o.port = std::atoi(need(i).c_str());
    else if (a == "--mode") o.mode = need(i);
    else if (a == "--dir") o.dir = need(i);
    else if (a == "--fresh") o.fresh = true;
    else if (a == "--venue") o.venue = need(i);
    else if (a == "--clients") {
      o.clients.clear();
      std::stringstream ss(need(i));
      std::string c;
      while (std::getline(ss, c, ','))
        if (!c.empty()) o.clients.push_back(c);
    } else if (a == "--password") { o.password = need(i); o.havePassword = true; }
    else if (a == "--dict") o.dict = need(i);
    else if (a == "--store") o.store = need(i);
    else if (a == "--log") o.log = need(i);
    else if (a == "--events") o.events = true;
    else if (a == "--threaded") o.threaded = true;
    else if (a == "--duration-secs") o.durationSecs = std::atoi(need(i).c_str());
    else if (a == "-h" || a == "--help") { usage(); std::exit(0); }
    else { std::cerr << "unknown argument " << a << "\n"; usage(); return 2; }
  }
  if (o.port <= 0) { std::cerr << "--port is required\n"; return 2; }
  if (o.mode != "ack" && o.mode != "fill" && o.mode != "match" && o.mode != "bad") { std::cerr << "bad --mode\n"; return 2; }
  if (o.store != "file" && o.store != "memory") { std::cerr << "bad --store\n"; return 2; }
  if (o.log != "file" && o.log != "none") { std::cerr << "bad --log\n"; return 2; }
  if (o.clients.empty()) { std::cerr << "no --clients\n"; return 2; }
  return 0;
}

std::string fieldOr(const FIX::FieldMap& m, int tag) {
  return m.isSetField(tag) ? m.getField(tag) : std::string("-");
}

std::string num(double x) {
  char b[64];
  std::snprintf(b, sizeof b, "%.10g", x);
  return b;
}

struct Resting {
  FIX::SessionID session;
  std::string clOrdId, orderId, symbol;
  char side;
  double price, qty, leaves, cum, notional;
};

struct Book {
  std::map<double, std::deque<Resting>, std::greater<double>> bids;
  std::map<double, std::deque<Resting>> asks;
};

class Executor : public FIX::Application, public qfh::EventSink {
 public:
  explicit Executor(const Options& o) : m_o(o) {
    long long secs = (long long)std::time(nullptr);
    m_prefix = std::to_string(secs) + "-";
  }

  long long orders = 0, ers = 0, rejects = 0;

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& id) override { emit("LOGON session=" + id.getTargetCompID().getValue()); }
  void onLogout(const FIX::SessionID& id) override { emit("LOGOUT session=" + id.getTargetCompID().getValue()); }
  void toAdmin(FIX::Message& msg, const FIX::SessionID& id) override {
    try {
      const std::string type = msg.getHeader().getField(FIX::FIELD::MsgType);
      if (type == "3") {
        std::lock_guard<std::mutex> l(m_mu);
        rejects++;
        emit("REJECT session=" + id.getTargetCompID().getValue() + " dir=out msg_type=3 ref_seq=" +
             fieldOr(msg, 45) + " ref_tag=" + fieldOr(msg, 371) + " reason=" + fieldOr(msg, 373) +
             " text=" + clean(fieldOr(msg, 58)));
      } else if (type == "2") {
        emit("RESEND session=" + id.getTargetCompID().getValue() + " dir=out begin=" + fieldOr(msg, 7) +
             " end=" + fieldOr(msg, 16));
      }
    } catch (std::exception&) {
    }
  }
  void toApp(FIX::Message& msg, const FIX::SessionID& id) throw(FIX::DoNotSend) override {
    try {
      if (msg.getHeader().getField(FIX::FIELD::MsgType) == "j") {
        std::lock_guard<std::mutex> l(m_mu);
        rejects++;
        emit("REJECT session=" + id.getTargetCompID().getValue() + " dir=out msg_type=j ref_seq=" +
             fieldOr(msg, 45) + " reason=" + fieldOr(msg, 380) + " text=" + clean(fieldOr(msg, 58)));
      }
    } catch (std::exception&) {
    }
  }
  void fromAdmin(const FIX::Message& msg, const FIX::SessionID& id) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
    const std::string type = msg.getHeader().getField(FIX::FIELD::MsgType);
    if (type == "A" && m_o.havePassword) {
      const std::string pw = msg.isSetField(554) ? msg.getField(554) : "";
      if (pw != m_o.password) {
        emit("LOGON_REJECTED session=" + id.getTargetCompID().getValue() + " reason=bad_password");
        throw FIX::RejectLogon("bad password");
      }
    } else if (type == "2") {
      emit("RESEND session=" + id.getTargetCompID().getValue() + " dir=in begin=" + fieldOr(msg, 7) +
           " end=" + fieldOr(msg, 16));
    } else if (type == "3") {
      emit("REJECT session=" + id.getTargetCompID().getValue() + " dir=in msg_type=3 ref_seq=" +
           fieldOr(msg, 45) + " ref_tag=" + fieldOr(msg, 371) + " reason=" + fieldOr(msg, 373) +
           " text=" + clean(fieldOr(msg, 58)));
    }
  }
  void fromApp(const FIX::Message& msg, const FIX::SessionID& id) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    const std::string type = msg.getHeader().getField(FIX::FIELD::MsgType);
    if (type != "D") throw FIX::UnsupportedMessageType();
    std::lock_guard<std::mutex> l(m_mu);
    orders++;
    onNewOrder(msg, id);
  }

  void onProblemEvent(const std::string& session, const std::string& text) override {
    emit("PROBLEM session=" + session + " text=" + clean(text));
  }

 private:
  const Options& m_o;
  std::mutex m_mu;  // ThreadedSocketAcceptor calls back from several threads
  std::string m_prefix;
  long long m_execSeq = 0, m_orderSeq = 0;
  std::map<std::string, Book> m_books;

  std::string nextExecId() { return "E" + m_prefix + std::to_string(++m_execSeq); }

  void send(FIX44::ExecutionReport& er, const FIX::SessionID& id) {
    ers++;
    FIX::Session::sendToTarget(er, id);
  }

  FIX44::ExecutionReport report(const std::string& orderId, char execType, char ordStatus, char side,
                                const std::string& leaves, const std::string& cum, const std::string& avgPx) {
    FIX44::ExecutionReport er(FIX::OrderID(orderId), FIX::ExecID(nextExecId()), FIX::ExecType(execType),
                              FIX::OrdStatus(ordStatus), FIX::Side(side), FIX::LeavesQty(0), FIX::CumQty(0),
                              FIX::AvgPx(0));
    er.setField(FIX::FIELD::LeavesQty, leaves);
    er.setField(FIX::FIELD::CumQty, cum);
    er.setField(FIX::FIELD::AvgPx, avgPx);
    er.set(FIX::TransactTime());
    return er;
  }

  void onNewOrder(const FIX::Message& msg, const FIX::SessionID& id) {
    const std::string clOrdId = msg.getField(FIX::FIELD::ClOrdID);
    const char side = msg.getField(FIX::FIELD::Side)[0];
    const std::string symbol = fieldOr(msg, FIX::FIELD::Symbol);
    const std::string qtyS = msg.isSetField(FIX::FIELD::OrderQty) ? msg.getField(FIX::FIELD::OrderQty) : "0";
    const std::string pxS = msg.isSetField(FIX::FIELD::Price) ? msg.getField(FIX::FIELD::Price) : "0";
    const std::string ordType = msg.getField(FIX::FIELD::OrdType);
    const std::string orderId = "O" + m_prefix + std::to_string(++m_orderSeq);

    auto common = [&](FIX44::ExecutionReport& er) {
      er.set(FIX::ClOrdID(clOrdId));
      if (symbol != "-") er.setField(FIX::FIELD::Symbol, symbol);
      er.setField(FIX::FIELD::OrderQty, qtyS);
      if (msg.isSetField(FIX::FIELD::Price)) er.setField(FIX::FIELD::Price, pxS);
      er.setField(FIX::FIELD::OrdType, ordType);
    };

    if (m_o.mode != "ack" && m_o.mode != "bad" && (ordType != "2" || (side != '1' && side != '2'))) {
      FIX44::ExecutionReport er = report(orderId, FIX::ExecType_REJECTED, FIX::OrdStatus_REJECTED, side, "0",
                                         "0", "0");
      common(er);
      er.set(FIX::Text("qf-executor matches limit buy/sell orders only"));
      send(er, id);
      return;
    }

    FIX44::ExecutionReport ack = report(orderId, FIX::ExecType_NEW, FIX::OrdStatus_NEW, side, qtyS, "0", "0");
    common(ack);
    if (m_o.mode == "bad") ack.setField(20, "0");
    send(ack, id);
    if (m_o.mode == "ack" || m_o.mode == "bad") return;

    if (m_o.mode == "fill") {
      FIX44::ExecutionReport f = report(orderId, FIX::ExecType_TRADE, FIX::OrdStatus_FILLED, side, "0", qtyS, pxS);
      common(f);
      f.setField(FIX::FIELD::LastQty, qtyS);
      f.setField(FIX::FIELD::LastPx, pxS);
      send(f, id);
      return;
    }

    // match
    Resting in{id, clOrdId, orderId, symbol, side, std::strtod(pxS.c_str(), nullptr),
               std::strtod(qtyS.c_str(), nullptr), 0, 0, 0};
    in.leaves = in.qty;
    Book& book = m_books[symbol];
    auto fillOne = [&](Resting& r, double q, double px) {
      r.leaves -= q;
      r.cum += q;
      r.notional += q * px;
      const bool done = r.leaves <= 1e-12;
      FIX44::ExecutionReport f =
          report(r.orderId, FIX::ExecType_TRADE, done ? FIX::OrdStatus_FILLED : FIX::OrdStatus_PARTIALLY_FILLED,
                 r.side, num(done ? 0 : r.leaves), num(r.cum), num(r.notional / r.cum));
      f.set(FIX::ClOrdID(r.clOrdId));
      if (r.symbol != "-") f.setField(FIX::FIELD::Symbol, r.symbol);
      f.setField(FIX::FIELD::OrderQty, num(r.qty));
      f.setField(FIX::FIELD::Price, num(r.price));
      f.setField(FIX::FIELD::OrdType, "2");
      f.setField(FIX::FIELD::LastQty, num(q));
      f.setField(FIX::FIELD::LastPx, num(px));
      send(f, r.session);
    };
    auto run = [&](auto& opposite, auto crosses) {
      while (in.leaves > 1e-12 && !opposite.empty() && crosses(opposite.begin()->first)) {
        auto level = opposite.begin();
        Resting& r = level->second.front();
        const double q = std::min(in.leaves, r.leaves);
        const double px = r.price;
        fillOne(r, q, px);  // resting side first
        fillOne(in, q, px);
        if (r.leaves <= 1e-12) level->second.pop_front();
        if (level->second.empty()) opposite.erase(level);
      }
    };
    if (side == '1') {
      run(book.asks, [&](double p) { return p <= in.price; });
      if (in.leaves > 1e-12) book.bids[in.price].push_back(in);
    } else {
      run(book.bids, [&](double p) { return p >= in.price; });
      if (in.leaves > 1e-12) book.asks[in.price].push_back(in);
    }
  }
};

std::string makeSettings(const Options& o, const std::string& dict) {
  std::ostringstream s;
  s << "[DEFAULT]\n"
    << "ConnectionType=acceptor\n"
    << "BeginString=FIX.4.4\n"
    << "SenderCompID=" << o.venue << "\n"
    << "SocketAcceptPort=" << o.port << "\n"
    << "SocketReuseAddress=Y\n"
    << "SocketNodelay=Y\n"
    << "StartTime=00:00:00\n"
    << "EndTime=00:00:00\n"
    << "UseDataDictionary=Y\n"
    << "DataDictionary=" << dict << "\n"
    << "ValidateUserDefinedFields=N\n"
    << "CheckLatency=N\n"
    << "ResetOnLogon=N\n"
    << "ResetOnLogout=N\n"
    << "ResetOnDisconnect=N\n"
    << "PersistMessages=Y\n"
    << "FileStorePath=" << o.dir << "/store\n"
    << "FileLogPath=" << o.dir << "/log\n";
  for (const auto& c : o.clients) s << "\n[SESSION]\nTargetCompID=" << c << "\n";
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (int rc = parseArgs(argc, argv, o)) return rc;
  const std::string dict = qfh::findDictionary(o.dict);
  if (dict.empty() || !qfh::fileExists(dict)) {
    std::cerr << "FIX44.xml not found (use --dict or QF_DICT)\n";
    return 1;
  }
  if (o.fresh) {
    std::string cmd = "rm -rf '" + o.dir + "/store' '" + o.dir + "/log'";
    if (std::system(cmd.c_str()) != 0) std::cerr << "could not clear " << o.dir << "\n";
  }
  qfh::mkdirs(o.dir + "/store");
  if (o.log == "file") qfh::mkdirs(o.dir + "/log");

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Executor app(o);
  try {
    std::istringstream cfg(makeSettings(o, dict));
    FIX::SessionSettings settings(cfg);
    std::unique_ptr<FIX::MessageStoreFactory> store;
    if (o.store == "file") store.reset(new FIX::FileStoreFactory(settings));
    else store.reset(new FIX::MemoryStoreFactory());
    qfh::TeeLogFactory logs(o.log == "file" ? o.dir + "/log" : "", o.events, &app, true);
    std::unique_ptr<FIX::Acceptor> acceptor;
    if (o.threaded) acceptor.reset(new FIX::ThreadedSocketAcceptor(app, *store, settings, logs));
    else acceptor.reset(new FIX::SocketAcceptor(app, *store, settings, logs));
    acceptor->start();
    emit("LISTENING port=" + std::to_string(o.port) + " mode=" + o.mode + " dict=" + dict);

    if (o.durationSecs > 0) {
      timespec ts{o.durationSecs, 0};
      sigtimedwait(&stopSignals, nullptr, &ts);
    } else {
      int sig = 0;
      sigwait(&stopSignals, &sig);
    }
    acceptor->stop();
  } catch (std::exception& e) {
    std::cerr << "qf-executor: " << e.what() << "\n";
    emit(std::string("STOPPED error=") + clean(e.what()));
    return 1;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double cpuMs = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  char perOrder[32];
  std::snprintf(perOrder, sizeof perOrder, "%.1f", app.orders ? cpuMs * 1e3 / app.orders : 0.0);
  emit("STATS orders=" + std::to_string(app.orders) + " execution_reports=" + std::to_string(app.ers) +
       " rejects_sent=" + std::to_string(app.rejects) + " cpu_ms=" + std::to_string((long long)cpuMs) +
       " cpu_us_per_order=" + perOrder);
  return 0;
}
