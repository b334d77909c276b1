meta:
  id: hivemind_frame
  title: HiveMind binary frame (protocol v1 "binarize" framing)
  license: Apache-2.0
  endian: be
  bit-endian: be
doc: |
  One websocket binary message (after any link decryption). All fields are MSB-first bit
  fields. The encoder writes the header, the metadata, the 4-bit subtype (BINARY only) and the
  payload as one bit string, then prepends zero bits to reach a whole number of bytes. Only
  BINARY frames carry the 4-bit subtype, so they are the only frames with padding: exactly four
  zero bits. Their header and metadata therefore sit four bits off the byte grid, while the
  subtype brings the payload back onto it.

  The first bit of a frame tells the two layouts apart: a set bit is the start bit of an
  unpadded frame; a clear bit begins the four padding bits of a BINARY frame.

  Layout (bits): [0000 if BINARY] 1 | versioned:1 | [version:8 if versioned] | type:5 |
  compressed:1 | metadata_length:8 | metadata:8*metadata_length | [subtype:4 if BINARY] |
  payload to the end.

  A decoder must reject: a version above 1, an unassigned type code, padding that does not
  match the type (BINARY without its four zero bits, anything else with them), and a frame
  that ends inside a field.
seq:
  - id: frame
    type:
      switch-on: first_byte >> 7
      cases:
        1: unpadded_frame
        0: padded_frame
instances:
  first_byte:
    pos: 0
    type: u1
    doc: Peeked to choose the layout; the fields themselves are read by the frame types.
types:
  unpadded_frame:
    doc: Every type but BINARY, whose bit count is already a multiple of eight.
    seq:
      - id: header
        type: header
      - id: body
        type: unpadded_body
        if: header.is_v1
  padded_frame:
    doc: BINARY frames, led by four zero padding bits.
    seq:
      - id: padding
        type: b4
        valid: 0
        doc: Four zero bits that bring a BINARY frame to a whole number of bytes.
      - id: header
        type: header
      - id: body
        type: padded_body
        if: header.is_v1
  header:
    seq:
      - id: start_bit
        type: b1
        valid: true
        doc: Always set; the first set bit of a frame.
      - id: versioned
        type: b1
        doc: Set when an 8-bit frame-format version follows; senders leave it clear.
      - id: version
        type: b8
        if: versioned
        doc: The frame-format version; only 0 and 1 are defined.
      - id: type_code
        type: b5
        enum: message_type
        doc: The message type; codes 13-31 are unassigned and refused.
      - id: compressed
        type: b1
        doc: Metadata and (non-BINARY) payload are each a separate zlib stream.
    instances:
      is_v1:
        value: 'not versioned or version <= 1'
  unpadded_body:
    doc: Metadata and payload of an unpadded frame (byte aligned after the 16- or 24-bit header).
    seq:
      - id: metadata_length
        type: b8
        doc: Length in bytes of the metadata that follows (after compression, if any).
      - id: metadata
        size: metadata_length
        doc: UTF-8 JSON object (zlib stream when compressed); an empty block means `{}`.
      - id: payload
        size-eos: true
        doc: UTF-8 JSON object (zlib stream when compressed), to the end of the frame.
  padded_body:
    doc: |
      Metadata of a BINARY frame sits four bits off the byte grid, so it is read as bit fields;
      the 4-bit subtype realigns the payload.
    seq:
      - id: metadata_length
        type: b8
        doc: Length in bytes of the metadata that follows (after compression, if any).
      - id: metadata_bytes
        type: b8
        repeat: expr
        repeat-expr: metadata_length
        doc: The metadata, as in unpadded frames, read one byte at a time off the byte grid.
      - id: bin_type
        type: b4
        enum: binary_type
        doc: How to read the raw payload; realigns the payload on the byte grid.
      - id: payload
        size-eos: true
        doc: Raw bytes, never compressed, even when the compressed bit is set.
enums:
  message_type:
    0: handshake
    1: bus
    2: shared_bus
    3: broadcast
    4: propagate
    5: escalate
    6: hello
    7: query
    8: cascade
    9: ping
    10: rendezvous
    11: thirdprty
    12: binary
  binary_type:
    0: undefined
    1: raw_audio
    2: numpy_image
    3: file
    4: stt_audio_transcribe
    5: stt_audio_handle
    6: tts_audio
