package apierr

import (
	"net/http"

	"google.golang.org/grpc/codes"
)

// The OVMS status codes ovms produces (names as in OVMS's status.cpp).
const (
	InternalError Code = iota + 1
	UnknownError
	NotImplemented
	ModelNameMissing
	ModelVersionMissing
	ModelVersionNotLoadedAnymore
	ModelVersionNotLoadedYet
	ModelSpecMissing
	ModelVersionInvalidFormat
	InvalidSignatureDef
	InvalidNoOfInputs
	InvalidMissingInput
	InvalidMissingOutput
	InvalidNoOfShapeDimensions
	InvalidBatchSize
	InvalidShape
	InvalidPrecision
	InvalidValueCount
	InvalidContentSize
	InvalidMessageStructure
	InvalidStringInput
	CannotCompileModelIntoTargetDevice
	JSONInvalid
	PathInvalid
	ModelNotLoaded
	InferenceError
	UnsupportedSerializationPrecision
	RestNotFound
	RestInvalidURL
	RestUnsupportedMethod
	RestBodyIsNotAnObject
	RestPredictUnknownOrder
	RestInstancesNotAnArray
	RestNamedInstanceNotAnObject
	RestInputNotPreallocated
	RestNoInstancesFound
	RestInstancesNotNamedOrNonamed
	RestCouldNotParseInstance
	RestInstancesBatchSizeDiffer
	RestInputsNotAnObject
	RestNoInputsFound
	RestCouldNotParseInput
	RestCouldNotParseOutput
	RestCouldNotParseParameters
	RestUnsupportedPrecision
	RestBinaryDataSizeParameterInvalid
	RestBinaryBufferExceeded
	RestInferenceHeaderContentLengthInvalid
	RestContentsFieldNotEmpty
	JSONNestingDepthExceeded
	RestProtoToStringError
	RestSerializeTensorContentInvalidSize
	RestInferenceHeaderContentLengthExceeded
	SharedMemoryInvalid
	SharedMemoryNotFound
	SharedMemoryExists
	SharedMemoryOpenFailed
	ArenaFull
	DeviceUnavailable
	RequestTooLarge
	RequestTimeout
	ImageParsingFailed
	InvalidNoOfChannels
	BinaryImagesResolutionMismatch
	StringValEmpty
	BytesContentsEmpty
	UnsupportedLayout
	InvalidStringMaxSizeExceeded
	ConfigFileTimestampReadingFailed
	FilesystemError
	ShapeWrongFormat
	LayoutWrongFormat
	ModelConfigInvalid
	NireqTimeout
	Unauthenticated
	PermissionDenied
	SequenceMissing
	SequenceAlreadyExists
	SequenceIDNotProvided
	InvalidSequenceControlInput
	SequenceIDBadType
	SequenceControlInputBadType
	SequenceTerminated
	SpecialInputNoTensorShape
	MaxSequenceNumberReached
	PipelineDefinitionNotLoadedYet
	PipelineDefinitionNotLoadedAnymore
	PipelineDemultiplexerNoResults
	PipelineWrongNumberOfDimensionsToDemultiply
	PipelineWrongDimensionSizeToDemultiply
	PipelineTooLargeDimensionSizeToDemultiply
	PipelineInconsistentShardDimensions
)

type info struct {
	msg  string
	grpc codes.Code
	http int
}

var table = map[Code]info{
	InternalError:                      {"Internal server error", codes.Internal, http.StatusInternalServerError},
	UnknownError:                       {"Unknown error", codes.Unknown, http.StatusInternalServerError},
	NotImplemented:                     {"Functionality not implemented", codes.Unimplemented, http.StatusNotImplemented},
	ModelNameMissing:                   {"Model with requested name is not found", codes.NotFound, http.StatusNotFound},
	ModelVersionMissing:                {"Model with requested version is not found", codes.NotFound, http.StatusNotFound},
	ModelVersionNotLoadedAnymore:       {"Model with requested version is retired", codes.NotFound, http.StatusNotFound},
	ModelVersionNotLoadedYet:           {"Model with requested version is not loaded yet", codes.Unavailable, http.StatusNotFound},
	ModelSpecMissing:                   {"model_spec missing in request", codes.InvalidArgument, http.StatusBadRequest},
	ModelVersionInvalidFormat:          {"invalid model version format in request", codes.InvalidArgument, http.StatusBadRequest},
	InvalidSignatureDef:                {"Invalid signature name", codes.InvalidArgument, http.StatusBadRequest},
	InvalidNoOfInputs:                  {"Invalid number of inputs", codes.InvalidArgument, http.StatusBadRequest},
	InvalidMissingInput:                {"Missing input with specific name", codes.InvalidArgument, http.StatusBadRequest},
	InvalidMissingOutput:               {"Missing output with specific name", codes.InvalidArgument, http.StatusBadRequest},
	InvalidNoOfShapeDimensions:         {"Invalid number of shape dimensions", codes.InvalidArgument, http.StatusBadRequest},
	InvalidBatchSize:                   {"Invalid input batch size", codes.InvalidArgument, http.StatusBadRequest},
	InvalidShape:                       {"Invalid input shape", codes.InvalidArgument, http.StatusBadRequest},
	InvalidPrecision:                   {"Invalid input precision", codes.InvalidArgument, http.StatusBadRequest},
	InvalidValueCount:                  {"Invalid number of values in tensor proto container", codes.InvalidArgument, http.StatusBadRequest},
	InvalidContentSize:                 {"Invalid content size of tensor proto", codes.InvalidArgument, http.StatusBadRequest},
	InvalidMessageStructure:            {"Invalid message structure", codes.InvalidArgument, http.StatusBadRequest},
	InvalidStringInput:                 {"Invalid string input", codes.InvalidArgument, http.StatusBadRequest},
	ImageParsingFailed:                 {"Image parsing failed", codes.InvalidArgument, http.StatusBadRequest},
	InvalidNoOfChannels:                {"Invalid number of channels in binary input", codes.InvalidArgument, http.StatusBadRequest},
	BinaryImagesResolutionMismatch:     {"Binary input images for this endpoint are required to have the same resolution", codes.InvalidArgument, http.StatusBadRequest},
	StringValEmpty:                     {"String val is empty", codes.InvalidArgument, http.StatusBadRequest},
	BytesContentsEmpty:                 {"Bytes contents is empty", codes.InvalidArgument, http.StatusBadRequest},
	ShapeWrongFormat:                   {"The provided shape is in wrong format", codes.InvalidArgument, http.StatusBadRequest},
	LayoutWrongFormat:                  {"The provided layout is in wrong format", codes.InvalidArgument, http.StatusBadRequest},
	NireqTimeout:                       {"Timed out waiting for a free inference request", codes.ResourceExhausted, http.StatusServiceUnavailable},
	ModelConfigInvalid:                 {"Model config is invalid", codes.InvalidArgument, http.StatusBadRequest},
	FilesystemError:                    {"Error during filesystem operation", codes.Internal, http.StatusInternalServerError},
	ConfigFileTimestampReadingFailed:   {"Error during config file timestamp reading", codes.Internal, http.StatusInternalServerError},
	InvalidStringMaxSizeExceeded:       {"Maximum 2D array after string conversion exceeded 1GB", codes.InvalidArgument, http.StatusBadRequest},
	UnsupportedLayout:                  {"Received binary image input but resource not configured to accept NHWC layout", codes.InvalidArgument, http.StatusBadRequest},
	CannotCompileModelIntoTargetDevice: {"Cannot compile model into target device", codes.FailedPrecondition, http.StatusPreconditionFailed},
	JSONInvalid:                        {"The file is not valid json", codes.FailedPrecondition, http.StatusPreconditionFailed},
	PathInvalid:                        {"The provided base path is invalid or doesn't exists", codes.InvalidArgument, http.StatusBadRequest},
	ModelNotLoaded:                     {"Error while loading a model", codes.Internal, http.StatusInternalServerError},
	InferenceError:                     {"Internal inference error", codes.Internal, http.StatusInternalServerError},
	UnsupportedSerializationPrecision:  {"Unsupported serialization precision", codes.Internal, http.StatusInternalServerError},
	RestNotFound:                       {"Requested REST resource not found", codes.NotFound, http.StatusNotFound},
	RestInvalidURL:                     {"Invalid request URL", codes.InvalidArgument, http.StatusBadRequest},
	RestUnsupportedMethod:              {"Unsupported method", codes.Unimplemented, http.StatusNotAcceptable},
	RestBodyIsNotAnObject:              {"Request body should be JSON object", codes.InvalidArgument, http.StatusBadRequest},
	RestPredictUnknownOrder:            {"Invalid JSON structure. Could not detect row or column format", codes.InvalidArgument, http.StatusBadRequest},
	RestInstancesNotAnArray:            {"Invalid JSON structure. Nonamed instance is not an array.", codes.InvalidArgument, http.StatusBadRequest},
	RestNamedInstanceNotAnObject:       {"Invalid JSON structure. One of named instances is not a JSON object.", codes.InvalidArgument, http.StatusBadRequest},
	RestInputNotPreallocated:           {"Internal allocation error", codes.Internal, http.StatusInternalServerError},
	RestNoInstancesFound:               {"Invalid JSON structure. Missing instances in row format", codes.InvalidArgument, http.StatusBadRequest},
	RestInstancesNotNamedOrNonamed:     {"Could not detect neither named or nonamed format", codes.InvalidArgument, http.StatusBadRequest},
	RestCouldNotParseInstance:          {"Could not parse instance content. Not valid ndarray detected", codes.InvalidArgument, http.StatusBadRequest},
	RestInstancesBatchSizeDiffer:       {"Invalid JSON structure. Request inputs have different batch sizes", codes.InvalidArgument, http.StatusBadRequest},
	RestInputsNotAnObject:              {"Invalid JSON structure. One of inputs is not a JSON object.", codes.InvalidArgument, http.StatusBadRequest},
	RestNoInputsFound:                  {"Invalid JSON structure, missing inputs", codes.InvalidArgument, http.StatusBadRequest},
	RestCouldNotParseInput:             {"Could not parse input content. Not valid ndarray detected", codes.InvalidArgument, http.StatusBadRequest},
	RestCouldNotParseOutput:            {"Could not parse output content.", codes.InvalidArgument, http.StatusBadRequest},
	RestCouldNotParseParameters:        {"Could not parse request parameters", codes.InvalidArgument, http.StatusBadRequest},
	RestUnsupportedPrecision:           {"Could not parse input content. Unsupported data precision detected", codes.InvalidArgument, http.StatusBadRequest},
	RestBinaryDataSizeParameterInvalid: {"binary_data_size parameter is invalid and cannot be parsed", codes.InvalidArgument, http.StatusBadRequest},
	RestBinaryBufferExceeded:           {"Received buffer size is smaller than binary_data_size parameter indicates", codes.InvalidArgument, http.StatusBadRequest},
	// OVMS answers 500 for these two (no HTTP mapping); a client error is
	// the truth, so ovms answers 400 (see docs/compatibility.md).
	RestInferenceHeaderContentLengthInvalid: {"Inference-Header-Content-Length header is invalid and couldn't be parsed", codes.InvalidArgument, http.StatusBadRequest},
	RestContentsFieldNotEmpty:               {"Request contains values both in binary data and in content value", codes.InvalidArgument, http.StatusBadRequest},
	JSONNestingDepthExceeded:                {"JSON nesting depth exceeded", codes.InvalidArgument, http.StatusBadRequest},
	RestProtoToStringError:                  {"Response parsing to JSON error", codes.Internal, http.StatusInternalServerError},
	RestSerializeTensorContentInvalidSize:   {"Size of data in tensor_content does not match declared tensor shape", codes.Internal, http.StatusInternalServerError},
	// The text of this one is not in OVMS's published sources; it follows
	// its sibling REST_INFERENCE_HEADER_CONTENT_LENGTH_INVALID.
	RestInferenceHeaderContentLengthExceeded: {"Inference-Header-Content-Length header value exceeds the request body size", codes.InvalidArgument, http.StatusBadRequest},
	// The system shared-memory extension (Triton's messages are details).
	SharedMemoryInvalid:    {"", codes.InvalidArgument, http.StatusBadRequest},
	SharedMemoryNotFound:   {"", codes.NotFound, http.StatusNotFound},
	SharedMemoryExists:     {"", codes.AlreadyExists, http.StatusBadRequest}, // Triton maps ALREADY_EXISTS to 400
	SharedMemoryOpenFailed: {"", codes.Internal, http.StatusInternalServerError},
	// ovms-only codes.
	ArenaFull:         {"Shared memory arena is full", codes.ResourceExhausted, http.StatusServiceUnavailable},
	DeviceUnavailable: {"Device plugin is unavailable", codes.Unavailable, http.StatusServiceUnavailable},
	RequestTooLarge:   {"Request is too large", codes.ResourceExhausted, http.StatusRequestEntityTooLarge},
	RequestTimeout:    {"Request body was not received in time", codes.DeadlineExceeded, http.StatusRequestTimeout},
	// Stateful models (OVMS up to v2026.2).
	SequenceMissing:             {"Sequence with provided ID does not exist", codes.NotFound, http.StatusNotFound},
	SequenceAlreadyExists:       {"Sequence with provided ID already exists", codes.AlreadyExists, http.StatusConflict},
	SequenceIDNotProvided:       {"Sequence ID has not been provided in request inputs", codes.InvalidArgument, http.StatusBadRequest},
	InvalidSequenceControlInput: {"Unexpected value of sequence control input", codes.InvalidArgument, http.StatusBadRequest},
	SequenceIDBadType:           {"Could not find sequence id in expected tensor proto field uint64_val", codes.InvalidArgument, http.StatusBadRequest},
	SequenceControlInputBadType: {"Could not find sequence control input in expected tensor proto field uint32_val", codes.InvalidArgument, http.StatusBadRequest},
	SequenceTerminated:          {"Sequence last request is being processed and it's not available anymore", codes.FailedPrecondition, http.StatusPreconditionFailed},
	SpecialInputNoTensorShape:   {"Special input proto does not contain tensor shape information", codes.InvalidArgument, http.StatusBadRequest},
	MaxSequenceNumberReached:    {"Max sequence number has been reached. Could not create new sequence.", codes.Unavailable, http.StatusServiceUnavailable},
	// DAG pipelines (the state ones as ModelVersionNotLoadedYet/Anymore).
	PipelineDefinitionNotLoadedYet:              {"Pipeline is not loaded yet", codes.Unavailable, http.StatusNotFound},
	PipelineDefinitionNotLoadedAnymore:          {"Pipeline is retired", codes.NotFound, http.StatusNotFound},
	PipelineDemultiplexerNoResults:              {"Pipeline execution aborted due to no content from custom node", codes.Aborted, http.StatusNoContent},
	PipelineWrongNumberOfDimensionsToDemultiply: {"Wrong number of dimensions in a tensor to be sharded", codes.FailedPrecondition, http.StatusPreconditionFailed},
	PipelineTooLargeDimensionSizeToDemultiply:   {"Too large dynamic demultiplication requested.", codes.FailedPrecondition, http.StatusPreconditionFailed},
	PipelineWrongDimensionSizeToDemultiply:      {"Wrong dimension size. Should match demultiply count", codes.FailedPrecondition, http.StatusPreconditionFailed},
	PipelineInconsistentShardDimensions:         {"Gathered tensor shards dimensions are different", codes.FailedPrecondition, http.StatusPreconditionFailed},
	// API keys (docs/security.md): one message for a missing and a wrong
	// key, so that an answer never tells whether a key exists.
	Unauthenticated:  {"Unauthenticated: a valid API key is required", codes.Unauthenticated, http.StatusUnauthorized},
	PermissionDenied: {"Permission denied: this API key is not allowed to use this endpoint", codes.PermissionDenied, http.StatusForbidden},
}
