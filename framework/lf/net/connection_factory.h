// Public. ConnectionFactory: makes the handler of each new connection, for whoever opens
// connections (the Acceptor for accepted ones, the Connector for outgoing ones, the Server's
// listen() and connect()). It must return a connection owned by a std::shared_ptr (writing-a-
// handler.md, "The hooks").
#pragma once

#include <functional>
#include <memory>

namespace lf {

class StreamConnection;

using ConnectionFactory = std::function<std::shared_ptr<StreamConnection>()>;

}  // namespace lf
