import CNetfilter
import Glibc
import Synchronization
import WeftCore

/// A netlink socket to nf_tables (libmnl + libnftnl): writes a table in one atomic batch, removes it, reads the
/// ruleset generation and a table's contents. Opened in the calling thread's network namespace. Calls block for
/// the kernel's answer (well under a millisecond for small batches): keep them off event loops.
public final class NftablesConnection: @unchecked Sendable {
    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case socket(operation: String, errno: Int32)
        case kernelRejected(what: String, errno: Int32)
        case noAnswer(operation: String)
        case malformedAnswer(operation: String)

        public var description: String {
            switch self {
            case .socket(let operation, let code):
                let hint = code == EPERM ? " (weft-node needs root or CAP_NET_ADMIN)" : ""
                return "nftables netlink \(operation) failed: \(String(cString: strerror(code)))\(hint)"
            case .kernelRejected(let what, let code):
                let hint =
                    code == ENOENT || code == EOPNOTSUPP ? " (is the nf_tables/nft_redir kernel module available?)" : ""
                return "the kernel rejected \(what): \(String(cString: strerror(code)))\(hint); nothing was changed"
            case .noAnswer(let operation):
                return "the kernel did not answer the nftables \(operation) within 5 s"
            case .malformedAnswer(let operation):
                return "the kernel's answer to the nftables \(operation) could not be read"
            }
        }
    }

    private let socket: OpaquePointer
    private let portID: UInt32
    /// The next sequence number; held for a whole request/answer exchange, so exchanges never interleave.
    private let sequence: Mutex<UInt32>

    public init() throws(Error) {
        guard let socket = mnl_socket_open(NETLINK_NETFILTER) else { throw .socket(operation: "open", errno: errno) }
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let code = errno
            mnl_socket_close(socket)
            throw .socket(operation: "bind", errno: code)
        }
        self.socket = socket
        portID = mnl_socket_get_portid(socket)
        sequence = Mutex(UInt32(truncatingIfNeeded: time(nil)))
        let fd = mnl_socket_get_fd(socket)
        var one: Int32 = 1
        var buffer: Int32 = 8 << 20
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        // Acks without a copy of the request; room for large batches (root may force the size).
        _ = setsockopt(fd, Int32(SOL_NETLINK), NETLINK_CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        mnl_socket_close(socket)
    }

    /// Creates `table`, replacing any table of that family and name, in one transaction: all or nothing.
    public func replace(_ table: NftTable) throws(Error) {
        try sequence.withLock { (next) throws(Error) in
            var batch = NetlinkBatch(firstSequence: Self.take(&next, 1_000_000))
            batch.addTable(table, flags: UInt16(NLM_F_CREATE | NLM_F_ACK), what: "table \(table.name) (create)")
            batch.deleteTable(family: table.family, name: table.name)
            batch.addTable(table, flags: UInt16(NLM_F_CREATE | NLM_F_ACK), what: "table \(table.name)")
            for set in table.sets { batch.addSet(set, table: table) }
            for chain in table.chains { batch.addChain(chain, table: table) }
            for (index, rule) in table.rules.enumerated() { batch.addRule(rule, number: index + 1, table: table) }
            try commit(&batch, operation: "replace table")
        }
    }

    /// Gives `elements` of `set` (a set of `table` with `timeout`) their timeout afresh, in one transaction: each is
    /// added if it has expired, deleted, and added again — so an element can be a lease the node renews while it
    /// lives, on kernels that cannot update an element's timeout in place.
    public func renew(_ elements: [NftSetElement], of set: NftSet, in table: NftTable) throws(Error) {
        try sequence.withLock { (next) throws(Error) in
            var batch = NetlinkBatch(firstSequence: Self.take(&next, 1_000_000))
            batch.addElements(elements, of: set, table: table)
            batch.deleteElements(elements, of: set, table: table)
            batch.addElements(elements, of: set, table: table)
            try commit(&batch, operation: "renew elements of set \(set.name)")
        }
    }

    /// Removes the table if it exists; true when it did.
    @discardableResult
    public func deleteTable(family: NftFamily, name: String) throws(Error) -> Bool {
        try sequence.withLock { (next) throws(Error) in
            let existed = try tableExists(family: family, name: name, &next)
            var batch = NetlinkBatch(firstSequence: Self.take(&next, 16))
            batch.addTable(
                NftTable(family: family, name: name), flags: UInt16(NLM_F_CREATE | NLM_F_ACK), what: "table \(name)")
            batch.deleteTable(family: family, name: name)
            try commit(&batch, operation: "delete table")
            return existed
        }
    }

    /// The ruleset generation: changes with every committed nftables transaction, by anyone.
    public func generation() throws(Error) -> UInt32 {
        try sequence.withLock { (next) throws(Error) in
            var generation: UInt32?
            try request(
                &next, type: UInt16(NFT_MSG_GETGEN.rawValue), family: nil, dump: false, operation: "generation query"
            ) { nlh in
                guard let gen = nftnl_gen_alloc() else { return }
                defer { nftnl_gen_free(gen) }
                if nftnl_gen_nlmsg_parse(nlh, gen) == 0 { generation = nftnl_gen_get_u32(gen, UInt16(NFTNL_GEN_ID)) }
            }
            guard let generation else { throw .malformedAnswer(operation: "generation query") }
            return generation
        }
    }

    /// A canonical text of the table's chains, rules, sets and elements (no handles or counters), or nil when the
    /// table does not exist. Equal texts mean equal tables.
    public func contents(family: NftFamily, name: String) throws(Error) -> String? {
        try sequence.withLock { (next) throws(Error) -> String? in
            guard try tableExists(family: family, name: name, &next) else { return nil }
            var lines: [String] = []
            try request(
                &next, type: UInt16(NFT_MSG_GETCHAIN.rawValue), family: family, dump: true, operation: "chain dump"
            ) { nlh in
                guard let chain = nftnl_chain_alloc() else { return }
                defer { nftnl_chain_free(chain) }
                guard nftnl_chain_nlmsg_parse(nlh, chain) == 0,
                    String(cString: nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_TABLE.rawValue))) == name
                else { return }
                nftnl_chain_unset(chain, UInt16(NFTNL_CHAIN_HANDLE.rawValue))
                nftnl_chain_unset(chain, UInt16(NFTNL_CHAIN_USE.rawValue))
                nftnl_chain_unset(chain, UInt16(NFTNL_CHAIN_PACKETS.rawValue))
                nftnl_chain_unset(chain, UInt16(NFTNL_CHAIN_BYTES.rawValue))
                lines.append(
                    "chain "
                        + Self.text { nftnl_chain_snprintf($0, $1, chain, UInt32(NFTNL_OUTPUT_DEFAULT.rawValue), 0) })
            }
            try request(
                &next, type: UInt16(NFT_MSG_GETRULE.rawValue), family: family, dump: true, operation: "rule dump",
                payload: { nlh in
                    let rule = nftnl_rule_alloc()
                    defer { nftnl_rule_free(rule) }
                    nftnl_rule_set_str(rule, UInt16(NFTNL_RULE_TABLE.rawValue), name)
                    nftnl_rule_nlmsg_build_payload(nlh, rule)
                }
            ) { nlh in
                guard let rule = nftnl_rule_alloc() else { return }
                defer { nftnl_rule_free(rule) }
                guard nftnl_rule_nlmsg_parse(nlh, rule) == 0,
                    String(cString: nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_TABLE.rawValue))) == name
                else { return }
                nftnl_rule_unset(rule, UInt16(NFTNL_RULE_HANDLE.rawValue))
                nftnl_rule_unset(rule, UInt16(NFTNL_RULE_POSITION.rawValue))
                lines.append(
                    "rule " + Self.text { nftnl_rule_snprintf($0, $1, rule, UInt32(NFTNL_OUTPUT_DEFAULT.rawValue), 0) })
            }
            var setNames: [String] = []
            try request(
                &next, type: UInt16(NFT_MSG_GETSET.rawValue), family: family, dump: true, operation: "set dump",
                payload: { nlh in
                    let set = nftnl_set_alloc()
                    defer { nftnl_set_free(set) }
                    nftnl_set_set_str(set, UInt16(NFTNL_SET_TABLE.rawValue), name)
                    nftnl_set_nlmsg_build_payload(nlh, set)
                }
            ) { nlh in
                guard let set = nftnl_set_alloc() else { return }
                defer { nftnl_set_free(set) }
                guard nftnl_set_nlmsg_parse(nlh, set) == 0,
                    String(cString: nftnl_set_get_str(set, UInt16(NFTNL_SET_TABLE.rawValue))) == name
                else { return }
                let setName = String(cString: nftnl_set_get_str(set, UInt16(NFTNL_SET_NAME.rawValue)))
                setNames.append(setName)
                let flags = nftnl_set_get_u32(set, UInt16(NFTNL_SET_FLAGS.rawValue))
                let keyType = nftnl_set_get_u32(set, UInt16(NFTNL_SET_KEY_TYPE.rawValue))
                let keyLength = nftnl_set_get_u32(set, UInt16(NFTNL_SET_KEY_LEN.rawValue))
                lines.append("set \(setName) flags \(flags) key \(keyType)/\(keyLength)")
            }
            for setName in setNames.sorted() {
                try request(
                    &next, type: UInt16(NFT_MSG_GETSETELEM.rawValue), family: family, dump: true,
                    operation: "element dump",
                    payload: { nlh in
                        let set = nftnl_set_alloc()
                        defer { nftnl_set_free(set) }
                        nftnl_set_set_str(set, UInt16(NFTNL_SET_TABLE.rawValue), name)
                        nftnl_set_set_str(set, UInt16(NFTNL_SET_NAME.rawValue), setName)
                        nftnl_set_elems_nlmsg_build_payload(nlh, set)
                    }
                ) { nlh in
                    guard let set = nftnl_set_alloc() else { return }
                    defer { nftnl_set_free(set) }
                    guard nftnl_set_elems_nlmsg_parse(nlh, set) == 0, let iterator = nftnl_set_elems_iter_create(set)
                    else { return }
                    defer { nftnl_set_elems_iter_destroy(iterator) }
                    while let element = nftnl_set_elems_iter_next(iterator) {
                        var length: UInt32 = 0
                        let key = nftnl_set_elem_get(element, UInt16(NFTNL_SET_ELEM_KEY), &length)
                        let bytes = key.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(length))) } ?? []
                        var flags: UInt32 = 0
                        if nftnl_set_elem_is_set(element, UInt16(NFTNL_SET_ELEM_FLAGS)) {
                            flags = nftnl_set_elem_get_u32(element, UInt16(NFTNL_SET_ELEM_FLAGS))
                        }
                        lines.append(
                            "element \(setName) \(bytes.map { String($0, radix: 16) }.joined(separator: ".")) \(flags)")
                    }
                }
            }
            return lines.joined(separator: "\n")
        }
    }

    // MARK: Netlink exchange

    private func tableExists(family: NftFamily, name: String, _ next: inout UInt32) throws(Error) -> Bool {
        do {
            try request(
                &next, type: UInt16(NFT_MSG_GETTABLE.rawValue), family: family, dump: false, operation: "table query",
                payload: { nlh in
                    let table = nftnl_table_alloc()
                    defer { nftnl_table_free(table) }
                    nftnl_table_set_str(table, UInt16(NFTNL_TABLE_NAME.rawValue), name)
                    nftnl_table_nlmsg_build_payload(nlh, table)
                }, handle: { _ in })
            return true
        } catch .kernelRejected(_, let code) where code == ENOENT {
            return false
        }
    }

    private static func take(_ next: inout UInt32, _ count: UInt32) -> UInt32 {
        defer { next &+= count }
        return next
    }

    /// Sends a query (or dump) and hands each answer message to `handle`.
    private func request(
        _ next: inout UInt32, type: UInt16, family: NftFamily?, dump: Bool, operation: String,
        payload: (UnsafeMutablePointer<nlmsghdr>) -> Void = { _ in },
        handle: (UnsafePointer<nlmsghdr>) -> Void
    ) throws(Error) {
        var message = NetlinkBuffer()
        let seq = Self.take(&next, 1)
        let flags = UInt16(NLM_F_REQUEST) | (dump ? UInt16(NLM_F_DUMP) : UInt16(NLM_F_ACK))
        message.append { buffer in
            let nlh = nftnl_nlmsg_build_hdr(buffer, type, family?.rawValue ?? 0, flags, seq)!
            payload(nlh)
            return nlh
        }
        try send(message, operation: operation)
        var done = false
        while !done {
            try receive(operation: operation) { (nlh) throws(Error) in
                guard nlh.pointee.nlmsg_seq == seq else { return }
                switch Int32(nlh.pointee.nlmsg_type) {
                case NLMSG_DONE:
                    done = true
                case NLMSG_ERROR:
                    let code = Self.errorCode(nlh)
                    if code != 0 { throw .kernelRejected(what: operation, errno: code) }
                    done = true
                default:
                    handle(nlh)
                    if !dump && nlh.pointee.nlmsg_flags & UInt16(NLM_F_MULTI) == 0 {
                        // A single answer; the ack that follows is read (and ignored) by the next exchange.
                        done = true
                    }
                }
            }
        }
    }

    /// Sends a batch and waits for every message's ack; the first error names the message that failed.
    private func commit(_ batch: inout NetlinkBatch, operation: String) throws(Error) {
        let buffer = batch.finish()
        try send(buffer, operation: operation)
        var pending = Set(batch.acknowledged.keys)
        var firstError: Error?
        while !pending.isEmpty {
            try receive(operation: operation) { (nlh) throws(Error) in
                guard Int32(nlh.pointee.nlmsg_type) == NLMSG_ERROR, pending.remove(nlh.pointee.nlmsg_seq) != nil else {
                    return
                }
                let code = Self.errorCode(nlh)
                if code != 0, firstError == nil {
                    firstError = .kernelRejected(
                        what: batch.acknowledged[nlh.pointee.nlmsg_seq] ?? operation, errno: code)
                }
            }
            if firstError != nil { break }
        }
        if let firstError { throw firstError }
    }

    private func send(_ buffer: NetlinkBuffer, operation: String) throws(Error) {
        let sent = buffer.withBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
        guard sent == buffer.count else {
            throw .socket(operation: "\(operation) send", errno: sent < 0 ? errno : EMSGSIZE)
        }
    }

    /// Reads one datagram and hands each message in it to `body`, skipping answers to earlier requests.
    private func receive(operation: String, _ body: (UnsafeMutablePointer<nlmsghdr>) throws(Error) -> Void)
        throws(Error)
    {
        let capacity = 1 << 20
        let storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        defer { storage.deallocate() }
        let received = mnl_socket_recvfrom(socket, storage, capacity)
        guard received >= 0 else {
            if errno == EAGAIN || errno == EWOULDBLOCK { throw .noAnswer(operation: operation) }
            throw .socket(operation: "\(operation) receive", errno: errno)
        }
        var remaining = Int32(received)
        var nlh: UnsafeMutablePointer<nlmsghdr>? = storage.assumingMemoryBound(to: nlmsghdr.self)
        while let message = nlh, mnl_nlmsg_ok(message, remaining) {
            if message.pointee.nlmsg_pid == portID || message.pointee.nlmsg_pid == 0 {
                try body(message)
            }
            nlh = mnl_nlmsg_next(message, &remaining)
        }
    }

    private static func errorCode(_ nlh: UnsafePointer<nlmsghdr>) -> Int32 {
        guard let payload = mnl_nlmsg_get_payload(nlh) else { return EPROTO }
        return -payload.load(as: Int32.self)
    }

    private static func text(_ print: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 8192)
        let written = buffer.withUnsafeMutableBufferPointer { print($0.baseAddress!, $0.count) }
        let length = min(max(Int(written), 0), buffer.count - 1)
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A growable buffer of netlink messages.
struct NetlinkBuffer {
    private var storage: [UInt8] = []
    private(set) var count = 0

    /// Room a single message may take; set elements are split to stay well below it.
    private static let messageRoom = 256 * 1024

    /// Lets `build` write one message at the end and keeps it.
    mutating func append(_ build: (UnsafeMutablePointer<CChar>) -> UnsafeMutablePointer<nlmsghdr>) {
        if storage.count - count < Self.messageRoom {
            storage.append(contentsOf: [UInt8](repeating: 0, count: max(Self.messageRoom * 2, storage.count)))
        }
        let offset = count
        let length = storage.withUnsafeMutableBytes { raw -> Int in
            let nlh = build((raw.baseAddress! + offset).assumingMemoryBound(to: CChar.self))
            return Int(nlh.pointee.nlmsg_len)
        }
        count += (length + 3) & ~3
    }

    func withBytes<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}

/// One nf_tables transaction: begin, messages each asking for an ack, end.
struct NetlinkBatch {
    private var buffer = NetlinkBuffer()
    private var sequence: UInt32
    /// What each acked message does, by sequence number, to name the one the kernel refuses.
    private(set) var acknowledged: [UInt32: String] = [:]

    private static let elementsPerMessage = 512

    init(firstSequence: UInt32) {
        sequence = firstSequence
        let seq = nextSequence()
        buffer.append { nftnl_batch_begin($0, seq)! }
    }

    private mutating func nextSequence() -> UInt32 {
        defer { sequence &+= 1 }
        return sequence
    }

    private mutating func add(
        _ type: Int32, family: NftFamily, flags: UInt16, what: String, payload: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) {
        let seq = nextSequence()
        acknowledged[seq] = what
        buffer.append { raw in
            let nlh = nftnl_nlmsg_build_hdr(raw, UInt16(type), family.rawValue, flags | UInt16(NLM_F_ACK), seq)!
            payload(nlh)
            return nlh
        }
    }

    mutating func addTable(_ table: NftTable, flags: UInt16, what: String) {
        add(Int32(NFT_MSG_NEWTABLE.rawValue), family: table.family, flags: flags, what: what) { nlh in
            let t = nftnl_table_alloc()
            defer { nftnl_table_free(t) }
            nftnl_table_set_str(t, UInt16(NFTNL_TABLE_NAME.rawValue), table.name)
            nftnl_table_set_u32(t, UInt16(NFTNL_TABLE_FAMILY.rawValue), UInt32(table.family.rawValue))
            nftnl_table_nlmsg_build_payload(nlh, t)
        }
    }

    mutating func deleteTable(family: NftFamily, name: String) {
        add(Int32(NFT_MSG_DELTABLE.rawValue), family: family, flags: 0, what: "table \(name) (delete)") { nlh in
            let t = nftnl_table_alloc()
            defer { nftnl_table_free(t) }
            nftnl_table_set_str(t, UInt16(NFTNL_TABLE_NAME.rawValue), name)
            nftnl_table_set_u32(t, UInt16(NFTNL_TABLE_FAMILY.rawValue), UInt32(family.rawValue))
            nftnl_table_nlmsg_build_payload(nlh, t)
        }
    }

    mutating func addSet(_ set: NftSet, table: NftTable) {
        add(Int32(NFT_MSG_NEWSET.rawValue), family: table.family, flags: UInt16(NLM_F_CREATE), what: "set \(set.name)")
        { nlh in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            Self.describe(s, set, table)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_KEY_TYPE.rawValue), set.keyTypeID)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_KEY_LEN.rawValue), set.keyLength)
            let flags =
                (set.interval ? UInt32(NFT_SET_INTERVAL.rawValue) : 0)
                | (set.timeout ? UInt32(NFT_SET_TIMEOUT.rawValue) : 0)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_FLAGS.rawValue), flags)
            nftnl_set_nlmsg_build_payload(nlh, s)
        }
        addElements(set.elements, of: set, table: table)
    }

    /// Adds elements to a set of the batch or of the table, in messages of at most `elementsPerMessage`; elements
    /// already there are left as they are.
    mutating func addElements(_ elements: [NftSetElement], of set: NftSet, table: NftTable) {
        changeElements(Int32(NFT_MSG_NEWSETELEM.rawValue), elements, of: set, table: table, verb: "")
    }

    mutating func deleteElements(_ elements: [NftSetElement], of set: NftSet, table: NftTable) {
        changeElements(Int32(NFT_MSG_DELSETELEM.rawValue), elements, of: set, table: table, verb: " (delete)")
    }

    private mutating func changeElements(
        _ type: Int32, _ elements: [NftSetElement], of set: NftSet, table: NftTable, verb: String
    ) {
        var start = 0
        while start < elements.count {
            let chunk = elements[start..<min(start + Self.elementsPerMessage, elements.count)]
            add(
                type, family: table.family, flags: UInt16(NLM_F_CREATE),
                what: "elements \(start + 1)-\(start + chunk.count) of set \(set.name)\(verb)"
            ) { nlh in
                let s = nftnl_set_alloc()!
                defer { nftnl_set_free(s) }
                Self.describe(s, set, table)
                for element in chunk {
                    let e = nftnl_set_elem_alloc()
                    element.key.withUnsafeBytes {
                        _ = nftnl_set_elem_set(e, UInt16(NFTNL_SET_ELEM_KEY), $0.baseAddress, UInt32($0.count))
                    }
                    if element.intervalEnd {
                        nftnl_set_elem_set_u32(
                            e, UInt16(NFTNL_SET_ELEM_FLAGS), UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue))
                    }
                    if let timeout = element.timeout {
                        nftnl_set_elem_set_u64(e, UInt16(NFTNL_SET_ELEM_TIMEOUT), timeout.wholeMilliseconds)
                    }
                    nftnl_set_elem_add(s, e)
                }
                nftnl_set_elems_nlmsg_build_payload(nlh, s)
            }
            start += chunk.count
        }
    }

    private static func describe(_ s: OpaquePointer, _ set: NftSet, _ table: NftTable) {
        nftnl_set_set_str(s, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
        nftnl_set_set_str(s, UInt16(NFTNL_SET_NAME.rawValue), set.name)
        nftnl_set_set_u32(s, UInt16(NFTNL_SET_FAMILY.rawValue), UInt32(table.family.rawValue))
        nftnl_set_set_u32(s, UInt16(NFTNL_SET_ID.rawValue), set.id)
    }

    mutating func addChain(_ chain: NftChain, table: NftTable) {
        add(
            Int32(NFT_MSG_NEWCHAIN.rawValue), family: table.family, flags: UInt16(NLM_F_CREATE),
            what: "chain \(chain.name)"
        ) { nlh in
            let c = nftnl_chain_alloc()
            defer { nftnl_chain_free(c) }
            nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue), table.name)
            nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_NAME.rawValue), chain.name)
            nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TYPE.rawValue), chain.type)
            nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_FAMILY.rawValue), UInt32(table.family.rawValue))
            nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue), chain.hook.rawValue)
            nftnl_chain_set_s32(c, UInt16(NFTNL_CHAIN_PRIO.rawValue), chain.priority)
            nftnl_chain_nlmsg_build_payload(nlh, c)
        }
    }

    mutating func addRule(_ rule: NftRule, number: Int, table: NftTable) {
        let flags = UInt16(NLM_F_CREATE | NLM_F_APPEND)
        add(
            Int32(NFT_MSG_NEWRULE.rawValue), family: table.family, flags: flags,
            what: "rule \(number) (chain \(rule.chain))"
        ) { nlh in
            let r = nftnl_rule_alloc()
            defer { nftnl_rule_free(r) }
            nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), table.name)
            nftnl_rule_set_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue), rule.chain)
            nftnl_rule_set_u32(r, UInt16(NFTNL_RULE_FAMILY.rawValue), UInt32(table.family.rawValue))
            for expression in rule.expressions { nftnl_rule_add_expr(r, Self.expression(expression)) }
            nftnl_rule_nlmsg_build_payload(nlh, r)
        }
    }

    mutating func finish() -> NetlinkBuffer {
        let seq = nextSequence()
        buffer.append { nftnl_batch_end($0, seq)! }
        return buffer
    }

    private static let register1 = NftRegister.one.number

    private static func expression(_ expression: NftExpression) -> OpaquePointer {
        switch expression {
        case .meta(let key):
            let e = nftnl_expr_alloc("meta")!
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_META_KEY), key.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_META_DREG), register1)
            return e
        case .compare(let comparison, let data):
            let e = nftnl_expr_alloc("cmp")!
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CMP_SREG), register1)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CMP_OP), comparison.rawValue)
            data.withUnsafeBytes {
                _ = nftnl_expr_set(e, UInt16(NFTNL_EXPR_CMP_DATA), $0.baseAddress, UInt32($0.count))
            }
            return e
        case .payload(let base, let offset, let length, let register):
            let e = nftnl_expr_alloc("payload")!
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_DREG), register.number)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_BASE), base.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_OFFSET), offset)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_LEN), length)
            return e
        case .lookup(let set, let id, let register):
            let e = nftnl_expr_alloc("lookup")!
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_SREG), register.number)
            nftnl_expr_set_str(e, UInt16(NFTNL_EXPR_LOOKUP_SET), set)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_SET_ID), id)
            return e
        case .immediate(let data):
            let e = nftnl_expr_alloc("immediate")!
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_IMM_DREG), register1)
            data.withUnsafeBytes {
                _ = nftnl_expr_set(e, UInt16(NFTNL_EXPR_IMM_DATA), $0.baseAddress, UInt32($0.count))
            }
            return e
        case .verdict(let verdict):
            let e = nftnl_expr_alloc("immediate")!
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_IMM_DREG), UInt32(NFT_REG_VERDICT.rawValue))
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_IMM_VERDICT), UInt32(bitPattern: verdict.rawValue))
            return e
        case .redirectToPortInRegister:
            let e = nftnl_expr_alloc("redir")!
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_REDIR_REG_PROTO_MIN), register1)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_REDIR_FLAGS), UInt32(NF_NAT_RANGE_PROTO_SPECIFIED))
            return e
        }
    }
}
