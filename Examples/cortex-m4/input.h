#ifndef INPUT_H
#define INPUT_H
extern const float kws_input[490];
#endif
