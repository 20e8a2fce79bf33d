extension StreamReader {
    /// The chunks of the stream as they arrive, until end of stream.
    public var chunks: Chunks { Chunks(reader: self) }

    /// An `AsyncSequence` of the stream's chunks (each at most 16 KiB), ending at end of stream.
    public struct Chunks: AsyncSequence, Sendable {
        public typealias Element = [UInt8]
        let reader: StreamReader

        /// Reads the chunks one by one.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let reader: StreamReader
            /// The next chunk, or nil at end of stream.
            ///
            /// ### Cancellation
            /// Safe: no bytes are consumed unless the call returns them.
            public mutating func next() async throws -> [UInt8]? {
                let chunk = try await reader.read(upTo: StreamReader.receiveSize)
                return chunk.isEmpty ? nil : chunk
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader) }
    }
}
